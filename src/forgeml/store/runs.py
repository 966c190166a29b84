"""Queries on runs, their metric points and their artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.processes import host_name, process_alive
from forgeml.store.models import (
    ArtifactRecord,
    Base,
    DatasetRecord,
    DatasetVersionRecord,
    MetricRecord,
    RunArtifactRecord,
    RunRecord,
    utcnow,
)
from forgeml.store.rows import insert_ignore

__all__ = [
    "CRASHED",
    "HEARTBEAT_S",
    "MIN_PREFIX",
    "RUNNING",
    "STATUSES",
    "add_artifact",
    "append_metrics",
    "artifact_count",
    "artifacts_of",
    "create_run",
    "dataset_refs",
    "end_run",
    "get_run",
    "list_runs",
    "metric_history",
    "shown_status",
    "update_running",
]

RUNNING = "running"
CRASHED = "crashed"
STATUSES = ("running", "finished", "failed", "crashed")
HEARTBEAT_S = 30.0
"""Seconds between two heartbeats of a running run."""
STALE_AFTER_S = 20 * HEARTBEAT_S
"""A running run with no heartbeat for this long is shown as crashed (its host may be gone)."""
MIN_PREFIX = 6
_HEX = re.compile(r"^[0-9a-f]+$")
# Core table, so a batch of points is one executemany with no ORM bookkeeping
_METRICS = Base.metadata.tables[MetricRecord.__tablename__]


def create_run(session: Session, **values: Any) -> None:
    """Insert a new run row (status ``running``); ``values`` are RunRecord columns."""
    session.execute(insert(RunRecord).values(status=RUNNING, **values))


def append_metrics(session: Session, points: Sequence[dict[str, Any]]) -> None:
    """Insert metric points (dicts of run_id, key, step, value, logged_at) in one batch."""
    if points:
        session.execute(insert(_METRICS), list(points))


def update_running(session: Session, run_id: str, **values: Any) -> None:
    """Set columns of a run that is still running; refuses one that has ended."""
    done = session.execute(
        update(RunRecord)
        .where(RunRecord.id == run_id, RunRecord.status == RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise _not_running(session, run_id)


def shown_status(record: RunRecord, now: datetime | None = None) -> str:
    """The run's status, with ``crashed`` for a run still marked running whose process is
    gone (on this host) or whose heartbeat stopped :data:`STALE_AFTER_S` seconds ago."""
    if record.status != RUNNING:
        return record.status
    if record.pid is not None and record.host == host_name() and not process_alive(record.pid):
        return CRASHED
    beat = record.heartbeat_at
    if beat is not None and ((now or utcnow()) - beat).total_seconds() > STALE_AFTER_S:
        return CRASHED
    return RUNNING


def end_run(
    session: Session, run_id: str, *, status: str, error: str | None = None, **values: Any
) -> datetime:
    """Mark a running run finished or failed (setting ``values`` too); returns the end time."""
    if status not in ("finished", "failed"):
        raise ValueError(f"a run ends as finished or failed, not {status!r}")
    ended = utcnow()
    update_running(session, run_id, status=status, error=error, ended_at=ended, **values)
    return ended


def add_artifact(session: Session, run_id: str, name: str, sha256: str, size_bytes: int) -> None:
    """Record that run ``run_id`` stored ``sha256`` under ``name``.

    Logging the same bytes under the same name again changes nothing; other bytes under a
    name the run already used are refused, so nothing recorded is ever replaced.
    """
    update_running(session, run_id, status=RUNNING)  # locks the row; refuses an ended run
    existing = session.scalar(
        select(RunArtifactRecord.artifact_sha256).where(
            RunArtifactRecord.run_id == run_id, RunArtifactRecord.name == name
        )
    )
    if existing == sha256:
        return
    if existing is not None:
        raise ConfigError(
            f"run {run_id} already has an artifact named {name!r} (sha256 {existing[:12]}), "
            f"with other content than this one ({sha256[:12]})",
            fix="log the new content under another name",
        )
    insert_ignore(
        session,
        ArtifactRecord,
        {"sha256": sha256, "size_bytes": size_bytes, "kind": "run", "created_at": utcnow()},
    )
    session.add(RunArtifactRecord(run_id=run_id, name=name, artifact_sha256=sha256))
    session.flush()


def get_run(session: Session, run_id: str) -> RunRecord:
    """The run whose id is ``run_id`` or starts with it (at least :data:`MIN_PREFIX` chars)."""
    wanted = run_id.strip().lower()
    exact = select(RunRecord).where(RunRecord.id == wanted).limit(1)
    row = session.scalars(exact).one_or_none() if len(wanted) == 32 else None
    if row is not None:
        return row
    if not _HEX.match(wanted):
        raise NotFound(
            f"{run_id!r} is not a run id",
            fix="run ids are 32 hexadecimal characters (a unique prefix of at least "
            f"{MIN_PREFIX} will do); run 'forgeml runs' to list them",
        )
    if len(wanted) < MIN_PREFIX:
        raise NotFound(
            f"run id prefix {run_id!r} is too short",
            fix=f"give at least {MIN_PREFIX} characters of the id; run 'forgeml runs' to list them",
        )
    matches = list(
        session.scalars(
            select(RunRecord).where(RunRecord.id.startswith(wanted)).order_by(RunRecord.id).limit(5)
        )
    )
    if not matches:
        raise NotFound(
            f"no run with id {run_id!r}", fix="run 'forgeml runs' to list the recent runs"
        )
    if len(matches) > 1:
        shown = ", ".join(m.id[: len(wanted) + 4] for m in matches[:4])
        more = " and more" if len(matches) > 4 else ""
        raise NotFound(
            f"run id prefix {run_id!r} is ambiguous: it matches {shown}{more}",
            fix="give more characters of the id",
        )
    return matches[0]


def list_runs(
    session: Session, *, experiment: str | None = None, status: str | None = None, limit: int = 50
) -> list[RunRecord]:
    """Runs, newest first, optionally of one experiment and/or with one status."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"unknown run status {status!r}", fix=f"use one of {', '.join(STATUSES)}")
    if limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}", fix="pass a positive limit")
    query = select(RunRecord)
    if experiment is not None:
        query = query.where(RunRecord.experiment == experiment)
    if status is not None:
        query = query.where(RunRecord.status == (RUNNING if status == CRASHED else status))
    query = query.order_by(RunRecord.started_at.desc(), RunRecord.id.desc())
    if status not in (RUNNING, CRASHED):
        return list(session.scalars(query.limit(limit)))
    now = utcnow()  # running and crashed runs are told apart by their process and heartbeat
    return [r for r in session.scalars(query) if shown_status(r, now) == status][:limit]


def metric_history(session: Session, run_id: str, key: str) -> list[tuple[int, float | None]]:
    """(step, value) of every point of ``key`` in run ``run_id``, ordered by step."""
    rows = session.execute(
        select(MetricRecord.step, MetricRecord.value)
        .where(MetricRecord.run_id == run_id, MetricRecord.key == key)
        .order_by(MetricRecord.step, MetricRecord.id)
    )
    return [(int(step), value) for step, value in rows]


def artifacts_of(
    session: Session, run_ids: Iterable[str], *, limit: int | None = None
) -> dict[str, dict[str, str]]:
    """run id -> {artifact name: sha256}, for each of ``run_ids``.

    With ``limit``, the first ``limit`` artifacts by name in all; :func:`artifact_count`
    counts a run's artifacts.
    """
    ids = list(run_ids)
    found: dict[str, dict[str, str]] = {run_id: {} for run_id in ids}
    if ids:
        query = (
            select(
                RunArtifactRecord.run_id, RunArtifactRecord.name, RunArtifactRecord.artifact_sha256
            )
            .where(RunArtifactRecord.run_id.in_(ids))
            .order_by(RunArtifactRecord.name, RunArtifactRecord.run_id)
        )
        rows = session.execute(query if limit is None else query.limit(limit))
        for run_id, name, sha in rows:
            found[run_id][name] = sha
    return found


def artifact_count(session: Session, run_id: str) -> int:
    """How many artifacts run ``run_id`` holds."""
    query = select(func.count()).select_from(RunArtifactRecord)
    return int(session.scalar(query.where(RunArtifactRecord.run_id == run_id)) or 0)


def dataset_refs(session: Session, version_ids: Iterable[int | None]) -> dict[int, str]:
    """dataset version id -> ``name@version``."""
    ids = {i for i in version_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(DatasetVersionRecord.id, DatasetRecord.name, DatasetVersionRecord.version)
        .join(DatasetRecord)
        .where(DatasetVersionRecord.id.in_(ids))
        .limit(len(ids))
    )
    return {vid: f"{name}@{version}" for vid, name, version in rows}


def _not_running(session: Session, run_id: str) -> ForgemlError:
    status = session.scalar(select(RunRecord.status).where(RunRecord.id == run_id))
    if status is None:
        return NotFound(f"no run with id {run_id!r}", fix="start one with start_run()")
    return ForgemlError(
        f"run {run_id} is {status}: a finished or failed run cannot be changed",
        fix="start a new run with start_run() to record more",
    )
