"""Bootstrap intervals: how far a metric measured on a few labelled rows can be trusted.

One helper serves every place that asks "is this difference more than noise?": a rollout's
arm (the interval of one metric), the decay trigger (is the champion's recent metric below
its baseline beyond its own interval?) and the loop's comparison of champion and
challenger on the same held-out rows (the interval of the *paired* difference: each
resample draws the same rows for both, so what the rows have in common cancels).

>>> import numpy as np
>>> values = np.arange(100, dtype=float)
>>> low, high = interval(len(values), lambda pick: float(values[pick].mean()))
>>> bool(low < 49.5 < high) and high - low < 25
True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np

from forgeml.monitor.performance import LabelledRows, window_metrics
from forgeml.training import metrics as m

__all__ = ["RESAMPLES", "interval", "metric_interval", "metric_value", "paired_difference"]

RESAMPLES = 200
Statistic = Callable[[np.ndarray], float | None]  # the statistic on the rows ``pick`` draws


def interval(
    n: int,
    statistic: Statistic,
    *,
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """The ``level`` percentile bootstrap interval of ``statistic`` over ``n`` rows.

    ``(None, None)`` when ``n`` is under 2 or the statistic could not be computed on at
    least half the resamples (a resample with one class has no AUC, say).
    """
    if n < 2:
        return None, None
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(resamples):
        value = statistic(rng.integers(0, n, n))
        if value is not None and np.isfinite(value):
            found.append(value)
    if len(found) < resamples // 2:
        return None, None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(found, [tail, 100 - tail])
    return float(low), float(high)


def metric_interval(
    rows: LabelledRows, metric: str, threshold: float, *, level: float = 0.95
) -> tuple[float | None, float | None]:
    """The interval of ``metric`` over labelled predictions (as the monitor computes it)."""

    def value(pick: np.ndarray) -> float | None:
        sample = LabelledRows(
            rows.times[pick],
            rows.y[pick],
            rows.scores[pick],
            rows.predicted[pick],
            rows.versions[pick],
            rows.task,
        )
        return rows_metric(sample, metric, threshold)

    return interval(len(rows), value, level=level)


def rows_metric(rows: LabelledRows, metric: str, threshold: float) -> float | None:
    """``metric`` over all of ``rows`` (None when empty or not computable)."""
    if len(rows) == 0:
        return None
    span = [(_naive(rows.times.min()), _naive(rows.times.max()) + timedelta(microseconds=1))]
    value = window_metrics(rows, span, threshold=threshold)[0].metrics.get(metric)
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def metric_value(
    metric: str, task: str, y: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5
) -> float | None:
    """``metric`` of ``scores`` against ``y`` (0/1, class index or value, by ``task``).

    The common metrics are computed directly (a bootstrap computes them hundreds of times);
    the others through the task's full metric set.
    """
    if len(y) == 0:
        return None
    if task == "binary":
        if metric == "roc_auc":
            return _auc(y, scores)
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        if metric == "log_loss":
            return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if metric == "brier":
            return float(np.mean((scores - y) ** 2))
        if metric == "accuracy":
            return float(np.mean((scores >= threshold) == (y == 1)))
        found = m.classification_metrics(y, scores, threshold=threshold).get(metric)
    elif task == "regression":
        if metric == "rmse":
            return float(np.sqrt(np.mean((scores - y) ** 2)))
        if metric == "mae":
            return float(np.mean(np.abs(scores - y)))
        found = m.regression_metrics(y, scores).get(metric)
    else:
        if metric == "accuracy":
            return float(np.mean(scores.argmax(axis=1) == y))
        if metric == "log_loss":
            p = np.clip(scores[np.arange(len(y)), y], 1e-15, 1.0)
            return float(-np.mean(np.log(p)))
        found = m.multiclass_metrics(y, scores, scores.shape[1]).get(metric)
    return float(found) if isinstance(found, int | float) and np.isfinite(found) else None


def paired_difference(
    metric: str,
    task: str,
    y: np.ndarray,
    theirs: np.ndarray,
    ours: np.ndarray,
    *,
    thresholds: tuple[float, float] = (0.5, 0.5),
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """The interval of how much better ``ours`` is than ``theirs`` on the same rows.

    Oriented so that a positive difference means ``ours`` is better (higher AUC, lower log
    loss); each resample scores both on the same drawn rows. ``thresholds``: theirs and
    ours, for metrics of decisions (accuracy).
    """
    sign = 1.0 if m.HIGHER_IS_BETTER.get(metric, True) else -1.0

    def gain(pick: np.ndarray) -> float | None:
        a = metric_value(metric, task, y[pick], ours[pick], threshold=thresholds[1])
        b = metric_value(metric, task, y[pick], theirs[pick], threshold=thresholds[0])
        return None if a is None or b is None else sign * (a - b)

    return interval(len(y), gain, level=level)


def _auc(y: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC from ranks (ties share their mean rank); None with one class only."""
    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _naive(value: np.datetime64) -> datetime:
    found: datetime = value.astype("datetime64[us]").item()
    return found
