"""Queries on the ``alerts`` table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.models import AlertRecord, utcnow
from forgeml.store.rows import insert_ignore

__all__ = ["add", "find", "mark_attempt", "undelivered"]


def add(
    session: Session,
    *,
    model: str,
    key: str,
    kind: str,
    severity: str,
    message: str,
    details: dict[str, Any],
    window_start: datetime | None,
    window_end: datetime | None,
) -> tuple[AlertRecord, bool]:
    """Insert the alert unless one with the same model and key exists; (row, created)."""
    before = find(session, model, key)
    if before is not None:
        return before, False
    insert_ignore(
        session,
        AlertRecord,
        {
            "model": model,
            "key": key,
            "kind": kind,
            "severity": severity,
            "message": message,
            "details": details,
            "window_start": window_start,
            "window_end": window_end,
            "created_at": utcnow(),
            "attempts": 0,
        },
    )
    row = find(session, model, key)
    assert row is not None
    return row, True


def find(session: Session, model: str, key: str) -> AlertRecord | None:
    query = select(AlertRecord).where(AlertRecord.model == model, AlertRecord.key == key)
    return session.scalars(query).one_or_none()


def undelivered(session: Session, limit: int = 100) -> list[AlertRecord]:
    query = select(AlertRecord).where(AlertRecord.delivered_at.is_(None))
    return list(session.scalars(query.order_by(AlertRecord.id).limit(limit)))


def mark_attempt(session: Session, alert_id: int, *, delivered: bool, error: str | None) -> None:
    row = session.get(AlertRecord, alert_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error = error
    if delivered:
        row.delivered_at = utcnow()
    session.flush()
