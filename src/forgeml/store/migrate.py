"""Schema revisions of the metadata store, applied with Alembic under a store-wide lock."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

__all__ = ["current_revision", "head_revision", "known_revisions", "lock_for_migration", "upgrade"]

# Arbitrary constant naming forgeml's migration lock in pg_advisory_xact_lock.
_PG_LOCK_ID = 0x466F7267654D4C


@cache
def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "forgeml.store:migrations")
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one revision
    return head


def known_revisions() -> list[str]:
    """Every revision this version of forgeml knows, oldest first."""
    scripts = ScriptDirectory.from_config(_config())
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def lock_for_migration(connection: Connection) -> None:
    """Serialise migrations across processes (SQLite already holds its write lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})


def upgrade(connection: Connection, target: str = "head") -> None:
    """Apply migrations up to ``target`` inside the caller's transaction."""
    cfg = _config()
    cfg.attributes["connection"] = connection
    try:
        command.upgrade(cfg, target)
    finally:
        cfg.attributes.pop("connection", None)


def downgrade(connection: Connection, target: str) -> None:
    cfg = _config()
    cfg.attributes["connection"] = connection
    try:
        command.downgrade(cfg, target)
    finally:
        cfg.attributes.pop("connection", None)
