"""The pipeline ledger on a SQLite store through the standard library's ``sqlite3``.

It writes the rows :mod:`forgeml.store.pipelines` writes (timestamps as SQLAlchemy stores
them on SQLite: naive UTC text; JSON as text), so every reader sees one history. It is
used only on a store already at this forgeml's schema revision; anything it cannot answer
(a missing dataset or model, for the error's hints) goes to the full store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgeml.errors import NotFound
from forgeml.store.ledger import CachedStep, PipelineLedger
from forgeml.store.migrate import HEAD_REVISION
from forgeml.store.sqlite_pragmas import BUSY_TIMEOUT_S, configure_sqlite, store_unusable

if TYPE_CHECKING:
    from forgeml.store.metastore import MetadataStore

__all__ = ["SqliteLedger", "sqlite_path"]

_PREFIX = "sqlite:///"
_STAMP = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DATETIME on SQLite


def sqlite_path(url: str) -> Path | None:
    """The database file of a plain ``sqlite:///PATH`` URL; None for any other URL."""
    if not url.startswith(_PREFIX) or "?" in url:
        return None
    path = url[len(_PREFIX) :]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


class SqliteLedger(PipelineLedger):
    """One ``sqlite3`` connection in autocommit mode; each write is one ``BEGIN IMMEDIATE``."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, store: Callable[[], MetadataStore]
    ) -> None:
        self._db = connection
        self._where = f"sqlite:///{path}"
        self._store = store

    @classmethod
    def open(cls, path: Path, store: Callable[[], MetadataStore]) -> SqliteLedger | None:
        """The ledger on the database at ``path``, or None when that file does not exist
        or its schema is not this forgeml's (the full store creates or upgrades it)."""
        if not path.is_file():
            return None
        try:
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        except sqlite3.Error:
            return None
        try:
            configure_sqlite(connection)
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            row = None
        if row is None or row[0] != HEAD_REVISION:
            connection.close()
            return None
        return cls(connection, path, store)

    def close(self) -> None:
        self._db.close()

    def start_run(
        self, run_id: str, pipeline: str, executor: str, options: dict[str, Any], by: str
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO pipeline_runs (id, pipeline, status, executor, options, "
                "created_by, started_at) VALUES (?, ?, 'running', ?, ?, ?, ?)",
                (run_id, pipeline, executor, json.dumps(options), by, _stamp(_now())),
            )

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        with self._write() as db:
            row = db.execute(
                "SELECT started_at FROM pipeline_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no pipeline run {run_id!r}", fix="run 'forgeml pipeline runs'")
            finished = _now()
            db.execute(
                "UPDATE pipeline_runs SET status = ?, error = ?, finished_at = ?, seconds = ? "
                "WHERE id = ?",
                (status, error, _stamp(finished), _seconds(row[0], finished), run_id),
            )

    def cached_step(self, cache_key: str) -> CachedStep | None:
        with self._guard():
            row = self._db.execute(
                "SELECT outputs, run_id FROM pipeline_steps "
                "WHERE cache_key = ? AND status = 'succeeded' ORDER BY id DESC LIMIT 1",
                (cache_key,),
            ).fetchone()
        if row is None:
            return None
        return CachedStep(dict(json.loads(row[0]) or {}), row[1])

    def start_step(
        self,
        run_id: str,
        step: str,
        uses: str,
        cache_key: str,
        inputs: dict[str, Any],
        *,
        status: str = "running",
        outputs: dict[str, Any] | None = None,
    ) -> int:
        started = _stamp(_now())
        finished, seconds = (None, None) if status == "running" else (started, 0.0)
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO pipeline_steps (run_id, step, uses, cache_key, status, attempts, "
                "inputs, outputs, started_at, finished_at, seconds) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    step,
                    uses,
                    cache_key,
                    status,
                    json.dumps(inputs),
                    json.dumps(outputs),
                    started,
                    finished,
                    seconds,
                ),
            )
            return int(cursor.lastrowid or 0)

    def finish_step(
        self,
        step_id: int,
        status: str,
        *,
        attempts: int,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self._write() as db:
            row = db.execute(
                "SELECT started_at FROM pipeline_steps WHERE id = ?", (step_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no pipeline step row {step_id}", fix="run 'forgeml pipeline runs'")
            finished = _now()
            db.execute(
                "UPDATE pipeline_steps SET status = ?, attempts = ?, outputs = ?, error = ?, "
                "finished_at = ?, seconds = ? WHERE id = ?",
                (
                    status,
                    attempts,
                    json.dumps(outputs),
                    error,
                    _stamp(finished),
                    _seconds(row[0], finished),
                    step_id,
                ),
            )

    def dataset_version(self, name: str, version: int | None) -> tuple[int, str]:
        query = (
            "SELECT v.version, v.content_hash FROM dataset_versions v "
            "JOIN datasets d ON d.id = v.dataset_id WHERE d.name = ?"
        )
        if version is None:
            row = self._one(query + " ORDER BY v.version DESC LIMIT 1", (name,))
        else:
            row = self._one(query + " AND v.version = ?", (name, version))
        if row is None:  # the full store says what is missing and what is near
            return self._full().dataset_version(name, version)
        return int(row[0]), str(row[1])

    def model_version(self, name: str, selector: int | str | None) -> tuple[int, str]:
        query = (
            "SELECT v.version, v.artifact_sha256 FROM model_versions v "
            "JOIN models m ON m.id = v.model_id"
        )
        if selector is None:
            row = self._one(query + " WHERE m.name = ? ORDER BY v.version DESC LIMIT 1", (name,))
        elif isinstance(selector, int):
            row = self._one(query + " WHERE m.name = ? AND v.version = ?", (name, selector))
        else:
            row = self._one(
                query + " JOIN model_aliases a ON a.model_version_id = v.id "
                "AND a.model_id = m.id WHERE m.name = ? AND a.alias = ?",
                (name, selector),
            )
        if row is None:
            return self._full().model_version(name, selector)
        return int(row[0]), str(row[1])

    def _one(self, query: str, params: tuple[Any, ...]) -> Any:
        with self._guard():
            return self._db.execute(query, params).fetchone()

    def _full(self) -> PipelineLedger:
        from forgeml.store.ledger_orm import StoreLedger

        return StoreLedger(self._store())

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as error:
            raise store_unusable(self._where, str(error).strip()) from None


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP)


def _seconds(started: str, finished: datetime) -> float:
    return (finished - datetime.fromisoformat(started).replace(tzinfo=UTC)).total_seconds()
