"""Queries on the ``rollouts`` table (a challenger version in shadow or canary)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.models import RolloutRecord, utcnow

__all__ = ["active", "add", "end", "history"]


def active(session: Session, model_id: int) -> RolloutRecord | None:
    """The model's active rollout (at most one exists)."""
    query = select(RolloutRecord).where(
        RolloutRecord.model_id == model_id, RolloutRecord.status == "active"
    )
    return session.scalars(query.order_by(RolloutRecord.id.desc()).limit(1)).one_or_none()


def add(
    session: Session,
    *,
    model_id: int,
    model_version_id: int,
    mode: str,
    share: float,
    sticky_key: str | None,
    started_by: str,
    reason: str,
) -> RolloutRecord:
    row = RolloutRecord(
        model_id=model_id,
        model_version_id=model_version_id,
        mode=mode,
        share=share,
        sticky_key=sticky_key,
        status="active",
        started_by=started_by,
        reason=reason,
        started_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def end(session: Session, row: RolloutRecord, *, status: str, actor: str, reason: str) -> None:
    row.status = status
    row.ended_by = actor
    row.end_reason = reason
    row.ended_at = utcnow()
    session.flush()


def history(session: Session, model_id: int) -> list[RolloutRecord]:
    query = select(RolloutRecord).where(RolloutRecord.model_id == model_id)
    return list(session.scalars(query.order_by(RolloutRecord.id.desc())))
