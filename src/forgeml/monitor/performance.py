"""Model performance once labels arrive: windowed metrics and changes in the error stream.

Labelled predictions come from the prediction log joined with feedback
(:func:`forgeml.serve.predlog.labelled_predictions`). Metrics per window are the training
metrics (:mod:`forgeml.training.metrics`), so a model card's numbers and a window's numbers
mean the same. Binary models are judged on the logged probability; multiclass models on
the logged class (the log keeps the top probability only: accuracy and macro F1);
regression on the logged value.

Concept drift is watched on the per-prediction error stream, in time order: the log loss of
each binary prediction, 0/1 error for multiclass, absolute error for regression. River's
ADWIN detector (or Page-Hinkley) reports where the stream's mean changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.errors import ConfigError
from forgeml.serve.logvalues import encode_label
from forgeml.training import metrics as m

__all__ = [
    "ChangePoint",
    "LabelledRows",
    "WindowMetrics",
    "change_points",
    "labelled_rows",
    "window_metrics",
]

DETECTORS = ("adwin", "page_hinkley")
EPS = 1e-15


@dataclass(frozen=True)
class LabelledRows:
    """Labelled predictions as arrays, in time order."""

    times: np.ndarray  # datetime64[us]
    y: np.ndarray  # 0/1 (binary), class index (multiclass), value (regression)
    scores: np.ndarray  # P(positive) (binary), value (regression)
    predicted: np.ndarray  # class index (classification), value (regression)
    versions: np.ndarray
    task: str

    def __len__(self) -> int:
        return len(self.y)

    def take(self, positions: np.ndarray | slice) -> LabelledRows:
        """The rows at ``positions`` (an index array or a slice), in the same order."""
        return LabelledRows(
            self.times[positions],
            self.y[positions],
            self.scores[positions],
            self.predicted[positions],
            self.versions[positions],
            self.task,
        )

    def errors(self) -> np.ndarray:
        """Per-prediction loss: log loss (binary), 0/1 error (multiclass), |error| (regression)."""
        if self.task == "binary":
            p = np.clip(self.scores, EPS, 1 - EPS)
            return np.asarray(-(self.y * np.log(p) + (1 - self.y) * np.log(1 - p)))
        if self.task == "multiclass":
            return np.asarray(self.predicted != self.y, dtype=np.float64)
        return np.asarray(np.abs(self.scores - self.y))


@dataclass(frozen=True)
class WindowMetrics:
    """The metrics of the predictions made in ``[start, end)`` that have labels."""

    start: datetime
    end: datetime
    rows: int
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "metrics": {k: _finite(v) for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class ChangePoint:
    """Where the error stream's mean changed: the time and the means before and after."""

    time: datetime
    index: int
    before: float
    after: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "index": self.index,
            "before": _finite(self.before),
            "after": _finite(self.after),
        }


def labelled_rows(joined: pa.Table, *, task: str, classes: Sequence[Any] | None) -> LabelledRows:
    """Arrays from a ``labelled_predictions`` table (rows with an unknown label dropped)."""
    order = pc.sort_indices(joined, sort_keys=[("time", "ascending")])
    table = joined.take(order)
    truth = table.column("true_label").to_pylist()  # JSON text
    times = table.column("time").cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    versions = np.asarray(table.column("version").to_numpy(zero_copy_only=False))
    scores = np.asarray(table.column("score").to_numpy(zero_copy_only=False), dtype=np.float64)
    if task == "regression":
        values = [None if t is None else json.loads(t) for t in truth]
        y = np.array(
            [
                v if isinstance(v, int | float) and not isinstance(v, bool) else np.nan
                for v in values
            ],
            dtype=np.float64,
        )
        keep = np.isfinite(y) & np.isfinite(scores)
        return LabelledRows(times[keep], y[keep], scores[keep], scores[keep], versions[keep], task)
    known = list(classes or [])
    index = {encode_label(c): i for i, c in enumerate(known)}
    y = np.array([index.get(t, -1) for t in truth], dtype=np.int64)
    labels = table.column("label").to_pylist()
    predicted = np.array([index.get(label or "", -1) for label in labels], dtype=np.int64)
    keep = y >= 0
    if task == "binary":
        keep &= np.isfinite(scores)
    return LabelledRows(times[keep], y[keep], scores[keep], predicted[keep], versions[keep], task)


def window_metrics(
    rows: LabelledRows,
    windows: Sequence[tuple[datetime, datetime]],
    *,
    threshold: float = 0.5,
    classes: int = 2,
) -> list[WindowMetrics]:
    """The task's metrics in each window (empty windows give ``rows`` 0 and no metrics)."""
    out = []
    for start, end in windows:
        lo = np.datetime64(_naive(start), "us")
        hi = np.datetime64(_naive(end), "us")
        inside = (rows.times >= lo) & (rows.times < hi)
        n = int(inside.sum())
        metrics: dict[str, Any] = {}
        if n:
            y, scores, predicted = rows.y[inside], rows.scores[inside], rows.predicted[inside]
            if rows.task == "binary":
                metrics = m.classification_metrics(y, scores, threshold=threshold)
            elif rows.task == "multiclass":
                metrics = {
                    "accuracy": float((predicted == y).mean()),
                    "error_rate": float((predicted != y).mean()),
                    "rows": n,
                }
            else:
                metrics = m.regression_metrics(y, scores)
            metrics.pop("confusion_matrix", None)
        out.append(WindowMetrics(start, end, n, metrics))
    return out


def change_points(
    rows: LabelledRows, *, detector: str = "adwin", delta: float = 0.002
) -> list[ChangePoint]:
    """Changes in the mean of the error stream, in time order (River's detectors)."""
    from river import drift

    if detector not in DETECTORS:
        raise ConfigError(
            f"change detector '{detector}' is unknown", fix=f"use one of {', '.join(DETECTORS)}"
        )
    errors = rows.errors()
    model: Any = (
        drift.ADWIN(delta=delta)  # type: ignore[no-untyped-call]
        if detector == "adwin"
        else drift.PageHinkley()
    )
    found: list[int] = []
    for i, value in enumerate(errors.tolist()):
        model.update(value)
        if model.drift_detected:
            found.append(i)
    points = []
    previous = 0
    for j, i in enumerate(found):
        following = found[j + 1] if j + 1 < len(found) else len(errors)
        before = float(errors[previous : i + 1].mean())
        after = float(errors[i + 1 : following].mean()) if following > i + 1 else math.nan
        stamp = rows.times[i].astype("datetime64[us]").item().replace(tzinfo=UTC)
        points.append(ChangePoint(stamp, i, before, after))
        previous = i + 1
    return points


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
