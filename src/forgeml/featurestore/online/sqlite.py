"""The embedded online store: one SQLite file, WAL mode, one query per lookup."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from forgeml.featurestore.online.base import OnlineStore, Record, decode, encode

__all__ = ["SQLiteOnlineStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    view TEXT NOT NULL, entity TEXT NOT NULL, ts INTEGER NOT NULL, record BLOB NOT NULL,
    PRIMARY KEY (view, entity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS online_watermarks (view TEXT PRIMARY KEY, mark BLOB NOT NULL);
"""

_UPSERT = (
    "INSERT INTO online_features (view, entity, ts, record) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (view, entity) DO UPDATE SET ts = excluded.ts, record = excluded.record "
    "WHERE excluded.ts >= online_features.ts"
)


def _select(shape: tuple[int, ...]) -> str:
    """One statement for views read with these numbers of keys; each part a primary-key
    lookup (a row-value IN would scan the table). SQLite keeps it prepared."""
    return " UNION ALL ".join(
        "SELECT view, entity, record FROM online_features WHERE view = ? AND entity IN "
        f"({', '.join('?' for _ in range(count))})"
        for count in shape
    )


class SQLiteOnlineStore(OnlineStore):
    """Records in ``online_features``; one connection per thread (SQLite's rule)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._statements: dict[tuple[int, ...], str] = {}  # by keys per view: one each
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
            with self._lock:
                self._connections.append(con)
        return con

    def write(self, view: str, rows: Sequence[tuple[str, int, bytes]]) -> None:
        con = self._connection()
        with con:
            con.executemany(_UPSERT, [(view, key, ts, record) for key, ts, record in rows])

    def read(self, refs: Sequence[tuple[str, str]]) -> list[Record | None]:
        if not refs:
            return []
        by_view: dict[str, list[str]] = {}
        for view, key in refs:
            by_view.setdefault(view, []).append(key)
        shape = tuple(len(keys) for keys in by_view.values())
        sql = self._statements.get(shape)
        if sql is None:
            if len(self._statements) >= 256:  # batches of many sizes: keep it bounded
                self._statements.clear()
            sql = self._statements[shape] = _select(shape)
        params = [part for view, keys in by_view.items() for part in (view, *keys)]
        rows = self._connection().execute(sql, params)
        found = {(view, entity): record for view, entity, record in rows}
        return [decode(found.get((view, key))) for view, key in refs]

    def watermark(self, view: str) -> Record | None:
        row = (
            self._connection()
            .execute("SELECT mark FROM online_watermarks WHERE view = ?", (view,))
            .fetchone()
        )
        return decode(row[0]) if row else None

    def set_watermark(self, view: str, mark: Record) -> None:
        con = self._connection()
        with con:
            con.execute(
                "INSERT INTO online_watermarks (view, mark) VALUES (?, ?) "
                "ON CONFLICT (view) DO UPDATE SET mark = excluded.mark",
                (view, encode(mark)),
            )

    def close(self) -> None:
        with self._lock:
            for con in self._connections:
                con.close()
            self._connections.clear()
        self._local = threading.local()
