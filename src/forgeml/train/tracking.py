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
"""

from __future__ import annotations

import atexit
import difflib
import enum
import math
import operator
import os
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session

from forgeml.data.versions import DatasetVersion
from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.project import Project, ProjectLike, who
from forgeml.store import datasets as dataset_queries
from forgeml.store import runs as queries
from forgeml.store.models import RunRecord, utcnow
from forgeml.train.environment import code_version, package_versions

__all__ = ["Run", "RunInfo", "get_run", "list_runs", "metric_history", "start_run"]

FLUSH_POINTS = 1000
"""Buffered metric points that trigger a write."""
FLUSH_SECONDS = 1.0
"""Seconds after the last write at which the next log call writes what is buffered."""
MAX_KEY_CHARS = 200
MAX_ARTIFACT_NAME_CHARS = 300
MAX_ERROR_CHARS = 4000
TRACEBACK_LINES = 20

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
RUNNING, FINISHED, FAILED = "running", "finished", "failed"
EXIT_ERROR = "the Python process exited without finishing the run"


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded: what went in, what came out, and where it ran."""

    id: str
    experiment: str
    kind: str
    status: str  # running | finished | failed
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
        self._params = params
        self._tags = tags
        self._code_version = code_version
        self._packages = packages
        self._host = host
        self._created_by = created_by
        self._started_at = started_at
        self._ended_at: datetime | None = None
        self._status = RUNNING
        self._error: str | None = None
        self._artifacts: dict[str, str] = {}
        self._buffer: list[tuple[str, int, float | None, float]] = []
        self._last: dict[str, tuple[int, float | None]] = {}  # key -> (highest step, value)
        self._metric_keys: set[str] = set()
        self._dirty = False  # params or tags changed since the last write
        self._written_at = time.monotonic()
        self._lock = threading.Lock()
        self._pid = os.getpid()
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
            new = {key: self._new_param(key, value) for key, value in params.items()}
            for key, value in new.items():
                if key not in self._params:
                    self._params[key] = value
                    self._dirty = True
            self._maybe_flush()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of metric ``key`` at ``step`` (default: one past its last step).

        NaN, infinity and None are stored as null; they never stop a training loop.
        """
        with self._lock:
            self._check_open()
            self._add_point(*self._point(key, value, step), time.time())
            self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record one point of each metric, all at ``step``; if one is refused, none is."""
        with self._lock:
            self._check_open()
            points = [self._point(key, value, step) for key, value in metrics.items()]
            now = time.time()
            for point in points:
                self._add_point(*point, now)
            self._maybe_flush()

    def set_tag(self, key: str, value: Any) -> None:
        """Label the run; unlike a param, a tag may be set again while the run is running."""
        with self._lock:
            self._check_open()
            self._tags[_check_key(key, "tag")] = _json_value(value, f"tag {key!r}")
            self._dirty = True
            self._maybe_flush()

    def log_artifact(self, name: str, data: bytes | str | os.PathLike[str]) -> str:
        """Store ``data`` (bytes, or the path of a file) as artifact ``name``; returns its sha256.

        The bytes go to the project's artifact store at once; logging the same content under
        the same name again is a no-op, other content under a used name is refused.
        """
        with self._lock:
            self._check_open()
            checked = _check_key(name, "artifact", MAX_ARTIFACT_NAME_CHARS)
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
            self._flush()

    def finish(self) -> RunInfo:
        """Write what is buffered and mark the run finished; it cannot change after this."""
        return self._end(FINISHED, None)

    def fail(self, error: BaseException | str) -> RunInfo:
        """Write what is buffered and mark the run failed with ``error``."""
        text = error if isinstance(error, str) else describe_error(error)
        return self._end(FAILED, _clip(text, MAX_ERROR_CHARS))

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

    def _new_param(self, key: str, value: Any) -> Any:
        """``value`` as stored JSON, after checking it does not change a param already set."""
        clean = _json_value(value, f"param {_check_key(key, 'param')!r}")
        if key in self._params and self._params[key] != clean:
            raise ConfigError(
                f"param {key!r} of run {self.id} is already {self._params[key]!r}; "
                f"it cannot change to {clean!r}",
                fix="params are the run's fixed inputs: log the new value under "
                "another key, or start a new run",
            )
        return clean

    def _point(self, key: str, value: Any, step: Any) -> tuple[str, int, float | None]:
        """A checked (key, step, value); changes nothing."""
        if key not in self._metric_keys:
            _check_key(key, "metric")
        number = _metric_value(key, value)
        if step is not None:
            return key, _check_step(key, step), number
        last = self._last.get(key)
        return key, 0 if last is None else last[0] + 1, number

    def _add_point(self, key: str, step: int, value: float | None, now: float) -> None:
        self._metric_keys.add(key)
        last = self._last.get(key)
        if last is None or step >= last[0]:
            self._last[key] = (step, value)
        self._buffer.append((key, step, value, now))

    def _maybe_flush(self) -> None:
        if (
            len(self._buffer) >= FLUSH_POINTS
            or time.monotonic() - self._written_at >= FLUSH_SECONDS
        ):
            self._flush()

    def _flush(self, end: tuple[str, str | None] | None = None) -> datetime | None:
        """One transaction: the run row first (it must still be running), then the points."""
        values: dict[str, Any] = {}
        if self._dirty:
            values.update(params=dict(self._params), tags=dict(self._tags))
        if self._buffer:
            values["metrics"] = {key: value for key, (_, value) in sorted(self._last.items())}
        ended: datetime | None = None
        if values or end is not None:
            run_id = self.id
            points = [
                {"run_id": run_id, "key": k, "step": s, "value": v, "logged_at": t}
                for k, s, v, t in self._buffer
            ]
            with self.project.store.write() as session:
                if end is not None:
                    ended = queries.end_run(session, run_id, status=end[0], error=end[1], **values)
                else:
                    queries.update_running(session, run_id, **values)
                queries.append_metrics(session, points)
            self._buffer.clear()
            self._dirty = False
        self._written_at = time.monotonic()
        return ended

    def _end(self, status: str, error: str | None) -> RunInfo:
        with self._lock:
            self._check_open()
            self._ended_at = self._flush((status, error))
            self._status = status
            self._error = error
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
            params=dict(sorted(self._params.items())),
            tags=dict(sorted(self._tags.items())),
            metrics={key: value for key, (_, value) in sorted(self._last.items())},
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
        experiment = _check_key(experiment, "experiment")
        if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
            raise ConfigError(
                f"{kind!r} is not a valid run kind",
                fix="use up to 32 lowercase letters, digits, '_' or '-', such as "
                "'train', 'evaluate' or 'retrain'",
            )
        clean_params = _json_mapping(params, "param")
        clean_tags = _json_mapping(tags, "tag")
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "experiment": experiment,
            "kind": kind,
            "params": clean_params,
            "tags": clean_tags,
            "metrics": {},
            "code_version": code_version(found.root),
            "packages": package_versions(),
            "host": socket.gethostname()[:200],
            "created_by": who(),
            "started_at": utcnow(),
        }
        with found.store.write() as session:
            values["dataset_version_id"] = _dataset_version_id(session, dataset)
            queries.create_run(session, **values)
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


def describe_error(error: BaseException) -> str:
    """``Type: message`` and the last lines of the traceback, short enough to store.

    >>> try:
    ...     int("x")
    ... except ValueError as e:
    ...     print(describe_error(e).splitlines()[0])
    ValueError: invalid literal for int() with base 10: 'x'
    """
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    message = str(error)
    head = _clip(f"{name}: {message}" if message else name, MAX_ERROR_CHARS // 4)
    lines = "".join(traceback.format_tb(error.__traceback__)).rstrip().splitlines()
    if not lines:
        return head
    tail = lines[-TRACEBACK_LINES:]
    if len(lines) > len(tail):
        tail.insert(0, f"  ... {len(lines) - len(tail)} earlier lines left out")
    body = "\n".join(["Traceback (most recent call last):", *tail])
    room = MAX_ERROR_CHARS - len(head) - 1
    if len(body) > room:
        body = "…" + body[len(body) - room + 1 :]
    return f"{head}\n{body}"


# -- helpers ---------------------------------------------------------------------------------

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
    return [
        RunInfo(
            id=r.id,
            experiment=r.experiment,
            kind=r.kind,
            status=r.status,
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


def _dataset_version_id(session: Session, dataset: DatasetVersion | None) -> int | None:
    if dataset is None:
        return None
    if not isinstance(dataset, DatasetVersion):
        raise ConfigError(
            f"dataset must be a DatasetVersion, not {type(dataset).__name__}",
            fix="pass forgeml.dataset('NAME@VERSION')",
        )
    record = dataset_queries.get_version(session, dataset.name, dataset.version)
    if record.content_hash != dataset.content_hash:
        raise ConfigError(
            f"dataset version {dataset.ref} of this project holds other data than the one "
            "given (it comes from another project)",
            fix=f"ingest the data into this project and pass forgeml.dataset('{dataset.name}')",
        )
    return record.id


def _check_key(key: Any, what: str, limit: int = MAX_KEY_CHARS) -> str:
    if not isinstance(key, str):
        raise ConfigError(
            f"{what} name {key!r} is of type {type(key).__name__}, not a string",
            fix=f"name each {what} with a string",
        )
    if not 1 <= len(key) <= limit or _CONTROL.search(key):
        problem = (
            "is empty"
            if not key
            else f"is {len(key)} characters long"
            if len(key) > limit
            else "contains a control character"
        )
        raise ConfigError(
            f"{what} name {key[:60]!r} {problem}",
            fix=f"use 1-{limit} characters without control characters (tabs, newlines, ...)",
        )
    return key


def _check_step(key: str, step: Any) -> int:
    try:
        number = None if isinstance(step, bool) else operator.index(step)
    except TypeError:
        number = None
    if number is None or not 0 <= number < 2**63:
        raise ConfigError(
            f"step {step!r} of metric {key!r} is not a whole number from 0",
            fix="pass step as an int >= 0, or leave it out to count steps per metric",
        )
    return number


def _metric_value(key: str, value: Any) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, str | bytes) else None
    except (TypeError, ValueError, OverflowError):
        number = None
    if number is None:
        raise ConfigError(
            f"metric {key!r} got {value!r}, which is not a number",
            fix="log a float or int (use a tag or param for text)",
        )
    return number if math.isfinite(number) else None


def _json_mapping(values: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    return {
        _check_key(key, what): _json_value(value, f"{what} {key!r}")
        for key, value in (values or {}).items()
    }


def _json_value(value: Any, where: str) -> Any:
    """``value`` as plain JSON data; numpy scalars and arrays become Python numbers and lists.

    Non-finite floats are kept as the strings 'nan', 'inf' and '-inf' (JSON has no such
    numbers).
    """
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, enum.Enum):
        return _json_value(value.value, where)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(float(value))
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _json_value(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str | int):
                raise ConfigError(
                    f"{where} has a key {k!r} of type {type(k).__name__}",
                    fix="use strings (or ints) as keys of a dict param or tag",
                )
            out[str(k)] = _json_value(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_json_value(v, where) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise ConfigError(
        f"{where} is a {type(value).__name__}, which cannot be stored as JSON",
        fix="log a number, string, bool, None, or a list or dict of them "
        "(str(value) for anything else)",
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
