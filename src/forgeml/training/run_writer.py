"""The batching writer behind a run: params, tags and metric points kept in memory.

A run's logging calls only check their input and append to this writer; :meth:`write`
then stores what accumulated in one transaction: the run row (params, tags, the latest
value of each metric) and the new metric points in one ``executemany``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from forgeml.data.versions import DatasetVersion
from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.store import datasets as dataset_queries
from forgeml.store import runs as queries
from forgeml.training.run_values import check_key, check_step, json_value, metric_value

__all__ = ["Point", "RunWriter", "insert_run"]

Point = tuple[str, int, float | None]  # key, step, value


class RunWriter:
    """What a running run has logged and not yet written, and the write that stores it."""

    def __init__(
        self, project: Project, run_id: str, params: dict[str, Any], tags: dict[str, Any]
    ) -> None:
        self.project = project
        self.run_id = run_id
        self.params = params
        self.tags = tags
        self.written_at = time.monotonic()
        self._dirty = False  # params or tags changed since the last write
        self._buffer: list[tuple[str, int, float | None, float]] = []
        self._last: dict[str, tuple[int, float | None]] = {}  # key -> (highest step, value)
        self._metric_keys: set[str] = set()

    @property
    def pending(self) -> int:
        """Metric points waiting to be written."""
        return len(self._buffer)

    def metrics(self) -> dict[str, float | None]:
        """The value at the highest step of each metric, by name."""
        return {key: value for key, (_, value) in sorted(self._last.items())}

    def add_params(self, params: Mapping[str, Any]) -> None:
        """Record params; if one is refused (or would change a param), none is recorded."""
        new = {key: self._new_param(key, value) for key, value in params.items()}
        for key, value in new.items():
            if key not in self.params:
                self.params[key] = value
                self._dirty = True

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[check_key(key, "tag")] = json_value(value, f"tag {key!r}")
        self._dirty = True

    def point(self, key: str, value: Any, step: Any) -> Point:
        """A checked (key, step, value); changes nothing."""
        if key not in self._metric_keys:
            check_key(key, "metric")
        number = metric_value(key, value)
        if step is not None:
            return key, check_step(key, step), number
        last = self._last.get(key)
        return key, 0 if last is None else last[0] + 1, number

    def add(self, points: list[Point], now: float) -> None:
        for key, step, value in points:
            self._metric_keys.add(key)
            last = self._last.get(key)
            if last is None or step >= last[0]:
                self._last[key] = (step, value)
            self._buffer.append((key, step, value, now))

    def write(self, end: tuple[str, str | None] | None = None) -> datetime | None:
        """One transaction: the run row first (it must still be running), then the points.

        With ``end`` (status, error) the run is ended in the same transaction; returns the
        time it ended then.
        """
        values: dict[str, Any] = {}
        if self._dirty:
            values.update(params=dict(self.params), tags=dict(self.tags))
        if self._buffer:
            values["metrics"] = self.metrics()
        ended: datetime | None = None
        if values or end is not None:
            run_id = self.run_id
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
        self.written_at = time.monotonic()
        return ended

    def _new_param(self, key: str, value: Any) -> Any:
        """``value`` as stored JSON, after checking it does not change a param already set."""
        clean = json_value(value, f"param {check_key(key, 'param')!r}")
        if key in self.params and self.params[key] != clean:
            raise ConfigError(
                f"param {key!r} of run {self.run_id} is already {self.params[key]!r}; "
                f"it cannot change to {clean!r}",
                fix="params are the run's fixed inputs: log the new value under "
                "another key, or start a new run",
            )
        return clean


def insert_run(project: Project, values: dict[str, Any], dataset: DatasetVersion | None) -> None:
    """Insert the row of a new run (``values``: its columns) for ``dataset``, if any."""
    with project.store.write() as session:
        queries.create_run(
            session, dataset_version_id=_dataset_version_id(session, dataset), **values
        )


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
