"""Queries on the ``cycles`` table: one row per retraining cycle, keyed for restarts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.models import CycleRecord, utcnow
from forgeml.store.rows import insert_ignore

__all__ = ["get_or_create", "judged_on_recent_rows", "latest", "unfinished", "update"]


def get_or_create(session: Session, model: str, key: str, trigger: str) -> CycleRecord:
    """The cycle ``key`` of ``model``, created (status running, stage start) if new."""
    now = utcnow()
    insert_ignore(
        session,
        CycleRecord,
        {
            "model": model,
            "key": key,
            "trigger": trigger,
            "status": "running",
            "stage": "start",
            "details": {},
            "started_at": now,
            "updated_at": now,
        },
    )
    query = select(CycleRecord).where(CycleRecord.model == model, CycleRecord.key == key)
    return session.scalars(query.with_for_update()).one()


def update(
    session: Session, cycle_id: int, *, stage: str, status: str, details: dict[str, Any]
) -> CycleRecord:
    row = session.get(CycleRecord, cycle_id, with_for_update=True)
    assert row is not None
    row.stage = stage
    row.status = status
    row.details = {**(row.details or {}), **details}
    row.updated_at = utcnow()
    session.flush()
    return row


def unfinished(session: Session, model: str) -> list[CycleRecord]:
    """Cycles still running or rolling out, oldest first."""
    query = select(CycleRecord).where(
        CycleRecord.model == model, CycleRecord.status.in_(("running", "rolling_out"))
    )
    return list(session.scalars(query.order_by(CycleRecord.id)))


def latest(session: Session, model: str, limit: int = 50) -> list[CycleRecord]:
    query = select(CycleRecord).where(CycleRecord.model == model)
    return list(session.scalars(query.order_by(CycleRecord.id.desc()).limit(limit)))


def judged_on_recent_rows(session: Session, model: str, version: int) -> dict[str, Any] | None:
    """The metrics of ``version`` on the held-out recent rows of the cycle that trained it.

    For a refit on those rows too, the judged challenger's: the refit's own metric there
    would be measured on rows it learnt from.
    """
    query = select(CycleRecord).where(CycleRecord.model == model)
    for row in session.scalars(query.order_by(CycleRecord.id.desc())):
        details = row.details or {}
        comparison = details.get("comparison")
        trained = version in (details.get("challenger"), details.get("refit"))
        if trained and isinstance(comparison, dict):
            metrics = comparison.get("challenger")
            return dict(metrics) if isinstance(metrics, dict) else None
    return None
