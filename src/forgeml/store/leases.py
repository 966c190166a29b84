"""Leases: at most one holder of a name until the lease expires (e.g. one retraining loop).

A holder renews before expiry; a holder that dies simply stops renewing and another can
take the lease once it has expired. Acquisition locks the lease row (PostgreSQL row lock;
SQLite's write transaction holds the database), so two contenders never both win.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.models import LeaseRecord, utcnow
from forgeml.store.rows import insert_ignore

__all__ = ["acquire", "holder", "release"]


def acquire(session: Session, name: str, holder_id: str, seconds: float) -> bool:
    """Take or renew lease ``name`` for ``seconds``; False when someone else holds it."""
    now = utcnow()
    insert_ignore(
        session,
        LeaseRecord,
        {"name": name, "holder": holder_id, "expires_at": now, "acquired_at": now},
    )
    row = session.scalars(
        select(LeaseRecord).where(LeaseRecord.name == name).with_for_update()
    ).one()
    if row.holder != holder_id and row.expires_at > now:
        return False
    if row.holder != holder_id:
        row.acquired_at = now
    row.holder = holder_id
    row.expires_at = now + timedelta(seconds=seconds)
    session.flush()
    return True


def release(session: Session, name: str, holder_id: str) -> None:
    """Give the lease up now, if ``holder_id`` holds it."""
    row = session.scalars(
        select(LeaseRecord).where(LeaseRecord.name == name).with_for_update()
    ).one_or_none()
    if row is not None and row.holder == holder_id:
        row.expires_at = utcnow()
        session.flush()


def holder(session: Session, name: str) -> str | None:
    """Who holds the lease now (None when free or expired)."""
    row = session.get(LeaseRecord, name)
    if row is None or row.expires_at <= utcnow():
        return None
    return row.holder
