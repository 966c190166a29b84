"""Reading runs back: one run, the latest runs, and the history of one metric.

>>> import tempfile
>>> from forgeml.training.tracking import start_run
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> with start_run(experiment="credit", project=project) as run:
...     run.log_metrics({"auc": 0.81}, step=0)
>>> [r.experiment for r in list_runs(project=project)], get_run(run.id, project=project).metrics
(['credit'], {'auc': 0.81})
>>> project.close()
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forgeml.errors import NotFound
from forgeml.project import Project, ProjectLike
from forgeml.store import runs as queries
from forgeml.store.models import RunRecord, utcnow

__all__ = ["RunInfo", "get_run", "list_runs", "metric_history"]


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded: what went in, what came out, and where it ran."""

    id: str
    experiment: str
    kind: str
    status: str  # running | finished | failed | crashed (its process is gone)
    params: dict[str, Any]
    tags: dict[str, Any]
    metrics: dict[str, float | None]  # the value at the highest step of each metric
    dataset: str | None  # 'name@version'
    code_version: dict[str, Any]  # commit, dirty, branch; {} outside a git repository
    packages: dict[str, str]
    host: str
    created_by: str
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    artifacts: dict[str, str]  # name -> sha256 in the artifact store

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end; None while the run is running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    def __repr__(self) -> str:
        on = f" on {self.dataset}" if self.dataset else ""
        return f"<RunInfo {self.id[:8]} {self.experiment} {self.kind} {self.status}{on}>"


def get_run(run_id: str, *, project: ProjectLike = None) -> RunInfo:
    """The run with id ``run_id``, or the one run whose id starts with it (6+ characters)."""
    with _opened(project) as found, found.store.read() as session:
        return _infos(session, [queries.get_run(session, run_id)])[0]


def list_runs(
    *,
    project: ProjectLike = None,
    experiment: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[RunInfo]:
    """The latest ``limit`` runs, newest first, optionally of one experiment or status."""
    with _opened(project) as found, found.store.read() as session:
        records = queries.list_runs(session, experiment=experiment, status=status, limit=limit)
        return _infos(session, records)


def metric_history(
    run_id: str, key: str, *, project: ProjectLike = None
) -> list[tuple[int, float | None]]:
    """Every (step, value) of metric ``key`` in a run, ordered by step; null for NaN/inf."""
    with _opened(project) as found, found.store.read() as session:
        record = queries.get_run(session, run_id)
        history = queries.metric_history(session, record.id, key)
        if not history and key not in record.metrics:
            known = sorted(record.metrics)
            near = difflib.get_close_matches(key, known, n=1)
            if near:
                hint = f"did you mean {near[0]!r}?"
            elif known:
                hint = f"its metrics are: {', '.join(known)}"
            else:
                hint = "it has logged no metrics"
            raise NotFound(f"run {record.id} has no metric {key!r}", fix=hint)
        return history


@contextmanager
def _opened(project: ProjectLike) -> Iterator[Project]:
    """The project, closed afterwards if it was opened here."""
    if isinstance(project, Project):
        yield project
        return
    found = Project.find(project)
    try:
        yield found
    finally:
        found.close()


def _infos(session: Session, records: list[RunRecord]) -> list[RunInfo]:
    artifacts = queries.artifacts_of(session, [r.id for r in records])
    datasets = queries.dataset_refs(session, [r.dataset_version_id for r in records])
    now = utcnow()
    return [
        RunInfo(
            id=r.id,
            experiment=r.experiment,
            kind=r.kind,
            status=queries.shown_status(r, now),
            params=dict(sorted(r.params.items())),
            tags=dict(sorted(r.tags.items())),
            metrics=dict(sorted(r.metrics.items())),
            dataset=None if r.dataset_version_id is None else datasets.get(r.dataset_version_id),
            code_version=dict(r.code_version),
            packages=dict(r.packages),
            host=r.host,
            created_by=r.created_by,
            error=r.error,
            started_at=r.started_at,
            ended_at=r.ended_at,
            artifacts=artifacts[r.id],
        )
        for r in records
    ]
