"""Tracked runs: the params, metrics, artifacts and lineage of one training job.

A run is a row in the metadata store from the moment it starts. Metric points are kept in
memory and written in batches, so logging inside a training loop costs microseconds; once a
run is finished or failed it cannot change.

>>> import tempfile
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> with start_run(experiment="credit", project=project, params={"lr": 0.1}) as run:
...     for epoch in range(3):
...         run.log_metric("loss", 1.0 / (epoch + 1))
>>> info = get_run(run.id[:8], project=project)
>>> info.status, info.params, info.metrics
('finished', {'lr': 0.1}, {'loss': 0.3333333333333333})
>>> metric_history(run.id, "loss", project=project)
[(0, 1.0), (1, 0.5), (2, 0.3333333333333333)]
>>> project.close()

This module holds a run's lifecycle; :mod:`forgeml.training.run_writer` batches its writes,
:mod:`forgeml.training.run_records` reads runs back and :mod:`forgeml.training.run_values`
checks what is logged.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

from forgeml.data.versions import DatasetVersion
from forgeml.errors import ForgemlError
from forgeml.processes import host_name
from forgeml.project import Project, ProjectLike, who
from forgeml.store import runs as queries
from forgeml.store.models import utcnow
from forgeml.training.environment import code_version, package_versions
from forgeml.training.run_records import RunInfo, get_run, list_runs, metric_history
from forgeml.training.run_values import (
    MAX_ARTIFACT_NAME_CHARS,
    MAX_ERROR_CHARS,
    check_key,
    check_kind,
    clip,
    describe_error,
    json_mapping,
)
from forgeml.training.run_values import MAX_KEY_CHARS as MAX_KEY_CHARS
from forgeml.training.run_values import TRACEBACK_LINES as TRACEBACK_LINES
from forgeml.training.run_writer import RunWriter, insert_run

__all__ = ["Run", "RunInfo", "get_run", "list_runs", "metric_history", "start_run"]

FLUSH_POINTS = 1000
"""Buffered metric points that trigger a write."""
FLUSH_SECONDS = 1.0
"""Seconds after the last write at which the next log call writes what is buffered."""
RUNNING, FINISHED, FAILED = "running", "finished", "failed"
EXIT_ERROR = "the Python process exited without finishing the run"


class Run:
    """A run in progress. Log to it, then :meth:`finish` or :meth:`fail` it.

    As a context manager it finishes on a clean exit and fails on an exception, which is
    then re-raised. Points are written in batches of :data:`FLUSH_POINTS`, at the first log
    call :data:`FLUSH_SECONDS` after the last write, and on :meth:`flush`, :meth:`finish`
    and :meth:`fail`. One thread at a time may log to a run (a lock keeps others waiting).
    """

    def __init__(
        self,
        project: Project,
        *,
        owns_project: bool,
        id: str,
        experiment: str,
        kind: str,
        dataset: str | None,
        params: dict[str, Any],
        tags: dict[str, Any],
        code_version: dict[str, Any],
        packages: dict[str, str],
        host: str,
        created_by: str,
        started_at: datetime,
    ) -> None:
        self.project = project
        self.id = id
        self.experiment = experiment
        self.kind = kind
        self._owns_project = owns_project
        self._dataset = dataset
        self._code_version = code_version
        self._packages = packages
        self._host = host
        self._created_by = created_by
        self._started_at = started_at
        self._ended_at: datetime | None = None
        self._status = RUNNING
        self._error: str | None = None
        self._artifacts: dict[str, str] = {}
        self._writer = RunWriter(project, id, params, tags)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._stopped = threading.Event()
        self._heartbeat = threading.Thread(
            target=self._beat, name=f"forgeml-run-{id[:8]}-heartbeat", daemon=True
        )
        self._heartbeat.start()
        _open_runs.add(self)

    @property
    def status(self) -> str:
        return self._status

    def log_param(self, key: str, value: Any) -> None:
        """Record an input of the run. A param keeps its first value for good."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several params; if one is refused, none of them is recorded."""
        with self._lock:
            self._check_open()
            self._writer.add_params(params)
            self._maybe_flush()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of metric ``key`` at ``step`` (default: one past its last step).

        NaN, infinity and None are stored as null; they never stop a training loop.
        """
        with self._lock:
            self._check_open()
            self._writer.add([self._writer.point(key, value, step)], time.time())
            self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record one point of each metric, all at ``step``; if one is refused, none is."""
        with self._lock:
            self._check_open()
            points = [self._writer.point(key, value, step) for key, value in metrics.items()]
            self._writer.add(points, time.time())
            self._maybe_flush()

    def set_tag(self, key: str, value: Any) -> None:
        """Label the run; unlike a param, a tag may be set again while the run is running."""
        with self._lock:
            self._check_open()
            self._writer.set_tag(key, value)
            self._maybe_flush()

    def log_artifact(self, name: str, data: bytes | str | os.PathLike[str]) -> str:
        """Store ``data`` (bytes, or the path of a file) as artifact ``name``; returns its sha256.

        The bytes go to the project's artifact store at once; logging the same content under
        the same name again is a no-op, other content under a used name is refused.
        """
        with self._lock:
            self._check_open()
            checked = check_key(name, "artifact", MAX_ARTIFACT_NAME_CHARS)
            store = self.project.artifacts
            if isinstance(data, bytes | bytearray | memoryview):
                sha = store.put_bytes(bytes(data))
                size = len(data)
            else:
                sha = store.put_file(data)
                size = store.size(sha)
            with self.project.store.write() as session:
                queries.add_artifact(session, self.id, checked, sha, size)
            self._artifacts[checked] = sha
            return sha

    def flush(self) -> None:
        """Write buffered metric points, params and tags now."""
        with self._lock:
            self._check_open()
            self._writer.write()

    def finish(self) -> RunInfo:
        """Write what is buffered and mark the run finished; it cannot change after this."""
        return self._end(FINISHED, None)

    def fail(self, error: BaseException | str) -> RunInfo:
        """Write what is buffered and mark the run failed with ``error``."""
        text = error if isinstance(error, str) else describe_error(error)
        return self._end(FAILED, clip(text, MAX_ERROR_CHARS))

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._status != RUNNING:  # already ended inside the block
            return
        if exc is None:
            self.finish()
            return
        try:
            self.fail(exc)
        except Exception as problem:  # keep the training error the one that propagates
            exc.add_note(f"forgeml could not record run {self.id} as failed: {problem}")

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, experiment={self.experiment!r}, status={self._status!r})"

    def _maybe_flush(self) -> None:
        writer = self._writer
        if writer.pending >= FLUSH_POINTS or time.monotonic() - writer.written_at >= FLUSH_SECONDS:
            writer.write()

    def _beat(self) -> None:
        """Record a sign of life every :data:`HEARTBEAT_S` seconds until the run ends."""
        while not self._stopped.wait(queries.HEARTBEAT_S):
            try:
                with self.project.store.write() as session:
                    queries.update_running(session, self.id, heartbeat_at=utcnow())
            except Exception:  # the run ended meanwhile, or the store is briefly unavailable
                if self._status != RUNNING:
                    return

    def _end(self, status: str, error: str | None) -> RunInfo:
        self._stopped.set()
        with self._lock:
            self._check_open()
            self._ended_at = self._writer.write((status, error))
            self._status = status
            self._error = error
        if self._heartbeat is not threading.current_thread():
            self._heartbeat.join()
        _open_runs.discard(self)
        if self._owns_project:
            self.project.close()
        return self._info()

    def _check_open(self) -> None:
        if self._status != RUNNING:
            raise ForgemlError(
                f"run {self.id} is {self._status}: a finished or failed run cannot change",
                fix="start a new run with start_run() to record more",
            )

    def _info(self) -> RunInfo:
        return RunInfo(
            id=self.id,
            experiment=self.experiment,
            kind=self.kind,
            status=self._status,
            params=dict(sorted(self._writer.params.items())),
            tags=dict(sorted(self._writer.tags.items())),
            metrics=self._writer.metrics(),
            dataset=self._dataset,
            code_version=dict(self._code_version),
            packages=dict(self._packages),
            host=self._host,
            created_by=self._created_by,
            error=self._error,
            started_at=self._started_at,
            ended_at=self._ended_at,
            artifacts=dict(sorted(self._artifacts.items())),
        )


def start_run(
    *,
    experiment: str,
    project: ProjectLike = None,
    kind: str = "train",
    dataset: DatasetVersion | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Run:
    """Start a run of ``experiment`` and record it (status ``running``) in the store.

    Records the dataset version it trains on, the git commit of the project folder (and
    whether the checkout has uncommitted changes), the versions of the ML packages, the
    host and the user.
    """
    found = project if isinstance(project, Project) else Project.find(project)
    try:
        experiment = check_key(experiment, "experiment")
        kind = check_kind(kind)
        clean_params = json_mapping(params, "param")
        clean_tags = json_mapping(tags, "tag")
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "experiment": experiment,
            "kind": kind,
            "params": clean_params,
            "tags": clean_tags,
            "metrics": {},
            "code_version": code_version(found.root),
            "packages": package_versions(),
            "host": host_name(),
            "created_by": who(),
            "started_at": utcnow(),
            "pid": os.getpid(),
            "heartbeat_at": utcnow(),
        }
        insert_run(found, values, dataset)
    except BaseException:
        if found is not project:
            found.close()
        raise
    return Run(
        found,
        owns_project=found is not project,
        id=values["id"],
        experiment=experiment,
        kind=kind,
        dataset=None if dataset is None else dataset.ref,
        params=clean_params,
        tags=clean_tags,
        code_version=values["code_version"],
        packages=values["packages"],
        host=values["host"],
        created_by=values["created_by"],
        started_at=values["started_at"],
    )


_open_runs: set[Run] = set()


@atexit.register
def _fail_open_runs() -> None:
    """Store what runs left open at exit hold, and mark them failed rather than lose it."""
    for run in list(_open_runs):
        if run._pid != os.getpid():  # a forked child exiting: the run belongs to its parent
            continue
        try:
            run.fail(EXIT_ERROR)
        except Exception as problem:
            print(
                f"forgeml: run {run.id} could not be recorded at exit: {problem}", file=sys.stderr
            )
