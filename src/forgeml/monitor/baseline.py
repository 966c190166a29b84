"""The metric a model's live performance is judged against for decay.

A random split's test metric is measured on rows from the same period as the training
rows; on data whose patterns change with the season, live predictions always look worse
than that, and a decay check would fire every month. So the baseline is the version's
metric on rows *later* than the ones it learnt from, whichever of these is known first:

1. the recent rows a retraining cycle judged it on;
2. the test rows of its training, when they were split by time, or when its data has no
   time column (nothing says the rows have an order, so the test rows are as good a
   sample of what comes as any);
3. its own first labelled predictions: the first ``monitor.window`` of them, and at least
   ``monitor.min_labels``. This is for a version trained on time-stamped rows split at
   random: its test metric is an in-period one. Decay is then judged only on labelled
   predictions made after those (:attr:`Baseline.until`), and until there are enough of
   them the version has no baseline yet, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.errors import ForgemlError
from forgeml.monitor.performance import LabelledRows, labelled_rows, window_metrics
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion
from forgeml.serve.predlog import labelled_predictions
from forgeml.store import cycles

__all__ = ["Baseline", "decay_baseline", "in_period_test", "own_labelled_predictions"]


@dataclass(frozen=True)
class Baseline:
    """The metric decay is judged against (None: not known yet), and where it came from."""

    value: float | None
    source: str  # in words: "its test rows", "its first 100 labelled predictions", ...
    until: datetime | None = None  # from its own predictions: judge only those made after


def decay_baseline(
    project: Project, version: ModelVersion, metric: str, *, now: datetime | None = None
) -> Baseline | None:
    """``version``'s baseline for ``metric`` (see the module docstring); None when it has
    no such metric at all. ``now``: only labels that had arrived by then count."""
    with project.store.read() as session:
        recent = cycles.judged_on_recent_rows(session, version.name, version.version)
    judged = _number(recent.get(metric)) if recent is not None else None
    if judged is not None:
        return Baseline(judged, "its metric on the recent rows a retraining cycle judged it on")
    tested = _number(version.metrics.get("test", {}).get(metric))
    if not in_period_test(project, version):
        split = "time-ordered " if version.lineage.get("split") == "time" else ""
        return None if tested is None else Baseline(tested, f"its {split}test rows")
    return _first_predictions(project, version, metric, now=now)


def in_period_test(project: Project, version: ModelVersion) -> bool:
    """Whether ``version``'s test rows were drawn at random from time-stamped training rows."""
    split = version.lineage.get("split")
    ref = str(version.signature.get("dataset") or version.lineage.get("dataset") or "")
    if split in (None, "time") or "@" not in ref:
        return False
    from forgeml.data.versions import dataset

    try:
        schema = dataset(ref, project=project).schema
    except ForgemlError:  # the dataset is gone: nothing to tell
        return False
    return bool(schema.get("timestamp_columns"))


def own_labelled_predictions(
    project: Project,
    version: ModelVersion,
    *,
    now: datetime | None,
    arrived_after: datetime | None = None,
) -> LabelledRows:
    """``version``'s own labelled predictions as the champion (no canary's, no shadow's),
    oldest first, whose labels arrived by ``now`` (and after ``arrived_after``)."""
    joined = labelled_predictions(project, version.name, end=now)
    if joined.num_rows:
        arrived = joined.column("label_time")
        keep = pc.and_(
            pc.equal(joined.column("arm"), "champion"),
            pc.equal(joined.column("version"), version.version),
        )
        if now is not None:
            keep = pc.and_(keep, pc.less_equal(arrived, pa.scalar(now, arrived.type)))
        if arrived_after is not None:
            keep = pc.and_(keep, pc.greater(arrived, pa.scalar(arrived_after, arrived.type)))
        joined = joined.filter(keep)
    task = str(version.signature.get("task") or "binary")
    return labelled_rows(joined, task=task, classes=version.signature.get("classes"))


def _first_predictions(
    project: Project, version: ModelVersion, metric: str, *, now: datetime | None
) -> Baseline:
    spec = project.spec.monitor
    rows = own_labelled_predictions(project, version, now=now)
    if not len(rows):
        return Baseline(None, _waiting(spec.min_labels, 0))
    span = np.timedelta64(int(parse_duration(spec.window).total_seconds()), "s")
    count = max(int(np.searchsorted(rows.times, rows.times[0] + span)), spec.min_labels)
    if len(rows) < count:
        return Baseline(None, _waiting(count, len(rows)))
    until = _utc(rows.times[count - 1])
    threshold = _number(version.metrics.get("test", {}).get("threshold")) or 0.5
    measured = window_metrics(
        rows, [(_utc(rows.times[0]), until + timedelta(microseconds=1))], threshold=threshold
    )[0]
    value = _number(measured.metrics.get(metric))
    source = f"its first {count} labelled predictions, to {until:%Y-%m-%d %H:%M}"
    if value is None:
        return Baseline(None, f"{metric} could not be measured on {source}")
    return Baseline(value, source, until)


def _waiting(needed: int, have: int) -> str:
    return (
        "its test rows were drawn at random from time-stamped rows, so its baseline is its "
        f"first {needed} labelled predictions ({have} so far)"
    )


def _utc(value: Any) -> datetime:
    return value.astype("datetime64[us]").item().replace(tzinfo=UTC)  # type: ignore[no-any-return]


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
