"""Race-safe row helpers shared by every numbered series (dataset versions, model versions)."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from forgeml.store.models import Base

__all__ = ["HINT_NAMES", "insert_ignore", "locked_parent", "nearest_name", "next_number"]

M = TypeVar("M", bound=Base)
HINT_NAMES = 10_000  # the stored names a "did you mean" hint compares a wrong name with


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> None:
    """INSERT unless a row with the same unique key exists (no error, no race)."""
    if session.get_bind().dialect.name == "postgresql":  # imported only where it is used
        from sqlalchemy.dialects import postgresql

        session.execute(postgresql.insert(model).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(model).values(**values).on_conflict_do_nothing())


def locked_parent(
    session: Session,
    model: type[M],
    key: InstrumentedAttribute[Any],
    value: Any,
    defaults: dict[str, Any] | None = None,
) -> M:
    """Get or create the parent row ``model`` where ``key == value`` and lock it.

    Holding the lock until commit serialises everyone who numbers children of this parent
    (PostgreSQL row lock; on SQLite the write transaction already holds the database lock).
    """
    insert_ignore(session, model, {key.key: value, **(defaults or {})})
    row = session.scalars(select(model).where(key == value).with_for_update()).one()
    return row


def next_number(session: Session, column: InstrumentedAttribute[int], *where: Any) -> int:
    """One more than the highest ``column`` among rows matching ``where`` (1 for none)."""
    highest = session.scalar(select(func.max(column)).where(*where))
    return int(highest or 0) + 1


def nearest_name(
    session: Session, column: InstrumentedAttribute[str], name: str
) -> tuple[str | None, bool]:
    """The stored name closest to ``name`` (None if none is close), and whether any exists.

    Only the first :data:`HINT_NAMES` names are compared, so a hint costs the same in any store.
    """
    names = list(session.scalars(select(column).order_by(column).limit(HINT_NAMES)))
    near = difflib.get_close_matches(name, names, n=1)
    return (near[0] if near else None), bool(names)
