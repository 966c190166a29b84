"""Queries on ``monitor_windows``: what monitoring found in each window of a model's traffic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forgeml.store.models import MonitorWindowRecord

__all__ = ["latest", "record"]


def record(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store windows (dicts of MonitorWindowRecord columns); a window stored before is replaced."""
    for row in rows:
        session.execute(
            delete(MonitorWindowRecord).where(
                MonitorWindowRecord.model == row["model"],
                MonitorWindowRecord.version == row["version"],
                MonitorWindowRecord.window_start == row["window_start"],
                MonitorWindowRecord.window_end == row["window_end"],
            )
        )
        session.add(MonitorWindowRecord(**row))
    session.flush()


def latest(
    session: Session, model: str, *, limit: int = 200, before: datetime | None = None
) -> list[MonitorWindowRecord]:
    """The model's newest ``limit`` windows (starting before ``before``), oldest first."""
    query = select(MonitorWindowRecord).where(MonitorWindowRecord.model == model)
    if before is not None:
        query = query.where(MonitorWindowRecord.window_start < before)
    query = query.order_by(MonitorWindowRecord.window_start.desc(), MonitorWindowRecord.id.desc())
    return list(reversed(list(session.scalars(query.limit(limit)))))
