"""Schema revisions of the metadata store, applied with Alembic under a store-wide lock.

Alembic is imported only to migrate: checking that a store is current is one query, so
every process start stays cheap; SQLAlchemy only when a function here runs, so
``HEAD_REVISION`` can be read without it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

__all__ = [
    "HEAD_REVISION",
    "current_revision",
    "downgrade",
    "known_revisions",
    "lock_for_migration",
    "upgrade",
]

# The newest revision in migrations/versions; a test checks it against Alembic's head.
HEAD_REVISION = "0009"
# Arbitrary constant naming forgeml's migration lock in pg_advisory_xact_lock.
_PG_LOCK_ID = 0x466F7267654D4C


def head_revision() -> str:
    return HEAD_REVISION


def current_revision(connection: Connection) -> str | None:
    """The store's revision, or None for a store that has never been migrated."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@cache
def known_revisions() -> list[str]:
    """Every revision this version of forgeml knows, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def lock_for_migration(connection: Connection) -> None:
    """Serialise migrations across processes (SQLite already holds its write lock)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy import text

        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})


def upgrade(connection: Connection, target: str = "head") -> None:
    """Apply migrations up to ``target`` inside the caller's transaction."""
    from alembic import command

    _run(command.upgrade, connection, target)


def downgrade(connection: Connection, target: str) -> None:
    """Revert migrations down to ``target`` inside the caller's transaction."""
    from alembic import command

    _run(command.downgrade, connection, target)


def _run(step: Callable[[Config, str], None], connection: Connection, target: str) -> None:
    cfg = _config()
    cfg.attributes["connection"] = connection
    try:
        step(cfg, target)
    finally:
        cfg.attributes.pop("connection", None)


@cache
def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "forgeml.store:migrations")
    return cfg
