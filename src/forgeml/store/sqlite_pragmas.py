"""How every connection to a SQLite metadata store is set up, whoever opens it, and the
error a store gives when it refuses a statement."""

from __future__ import annotations

from typing import Any

from forgeml.errors import StoreError

__all__ = ["BUSY_TIMEOUT_S", "configure_sqlite", "store_unusable"]

BUSY_TIMEOUT_S = 60.0


def configure_sqlite(dbapi_connection: Any) -> None:
    """WAL, foreign keys, the busy timeout, and transactions begun by the caller (so a
    writer takes the lock up front with ``BEGIN IMMEDIATE``)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cursor.close()


def store_unusable(where: str, reason: str) -> StoreError:
    """The error for a store that refused a statement: locked too long, or unreachable."""
    if "database is locked" in reason:
        return StoreError(
            f"metadata store {where} stayed locked by another writer for {BUSY_TIMEOUT_S:.0f} s",
            fix="wait for the other forgeml command to finish, or stop a process that "
            "holds the database open in a write transaction",
        )
    return StoreError(
        f"metadata store {where} cannot be used: {reason}",
        fix="check that the database server is running and the URL "
        "(FORGEML_DB_URL or store.db_url) is right",
    )
