"""Engines for the metadata store: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers queue on the database lock (up to the busy
timeout) instead of failing halfway; read transactions stay deferred and never block.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from forgeml.errors import ConfigError, MissingDependency
from forgeml.store.sqlite_pragmas import BUSY_TIMEOUT_S, configure_sqlite

__all__ = ["BUSY_TIMEOUT_S", "WRITE", "display_url", "make_engine"]

# Execution option that marks a connection's transaction as a write.
WRITE = "forgeml_write"


def display_url(url: str | URL) -> str:
    """The URL with any password masked, safe to print or log.

    >>> display_url("postgresql+psycopg://ml:s3cret@db.internal:5432/forgeml")
    'postgresql+psycopg://ml:***@db.internal:5432/forgeml'
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", str(url))


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``, configured for forgeml's transaction rules."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ConfigError(
            f"metadata store URL {display_url(url)!r} is not a database URL",
            fix="use sqlite:///path/to/forgeml.db or postgresql+psycopg://user@host/db "
            "(FORGEML_DB_URL or store.db_url in forgeml.yaml)",
        ) from e
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return _postgres_engine(parsed)
    raise ConfigError(
        f"metadata store backend {backend!r} in {display_url(url)!r} is not supported",
        fix="use sqlite:/// (embedded) or postgresql+psycopg:// (shared)",
    )


def _postgres_engine(url: URL) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise MissingDependency("psycopg", "postgres", "A PostgreSQL metadata store") from e


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        configure_sqlite(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
