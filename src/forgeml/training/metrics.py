"""Evaluation metrics and decision thresholds.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> m = classification_metrics(y, p, threshold=0.5)
>>> round(m["roc_auc"], 3), m["accuracy"], m["confusion_matrix"]
(0.75, 0.75, [[2, 0], [1, 1]])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn import metrics as skm

from forgeml.config import CostSpec
from forgeml.errors import ConfigError

__all__ = [
    "DEFAULT_METRIC",
    "HIGHER_IS_BETTER",
    "TASK_METRICS",
    "check_metric",
    "choose_threshold",
    "classification_metrics",
    "expected_calibration_error",
    "is_better",
    "multiclass_metrics",
    "one_metric",
    "regression_metrics",
]

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "accuracy": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "r2": True,
    "log_loss": False,
    "brier": False,
    "ece": False,
    "rmse": False,
    "mae": False,
    "mape": False,
    "expected_cost": False,
}
TASK_METRICS = {
    "binary": (
        "roc_auc", "pr_auc", "log_loss", "brier", "ece", "accuracy", "precision", "recall",
        "f1", "expected_cost",
    ),
    "multiclass": ("log_loss", "roc_auc", "accuracy", "f1"),
    "regression": ("rmse", "mae", "r2", "mape"),
}  # fmt: skip
"""The metrics each task computes, any of which can be the main metric."""
ECE_BINS = 15


def check_metric(metric: str, task: str, costs: CostSpec | None) -> None:
    """Refuse a main metric that is unknown, or that this task or spec does not compute.

    >>> try:
    ...     check_metric("rmse", "binary", None)
    ... except ConfigError as e:
    ...     print(e.message)
    train.metric 'rmse' is not computed for a binary target
    """
    if metric not in HIGHER_IS_BETTER:
        raise ConfigError(
            f"unknown metric {metric!r} in train.metric",
            fix="use one of " + ", ".join(sorted(HIGHER_IS_BETTER)),
        )
    if metric not in TASK_METRICS[task]:
        raise ConfigError(
            f"train.metric {metric!r} is not computed for a {task} target",
            fix=f"use one of {', '.join(TASK_METRICS[task])}, or leave train.metric out "
            f"for the default ({DEFAULT_METRIC[task]})",
        )
    if metric == "expected_cost" and costs is None:
        raise ConfigError(
            "train.metric 'expected_cost' needs the costs of errors, and train.costs is not set",
            fix="add train.costs, e.g. costs: {false_positive: 1, false_negative: 5}, "
            "or choose another metric",
        )


def is_better(metric: str, a: float, b: float) -> bool:
    """True when score ``a`` beats ``b`` on ``metric``."""
    if metric not in HIGHER_IS_BETTER:
        raise ConfigError(
            f"unknown metric {metric!r}", fix="use one of " + ", ".join(sorted(HIGHER_IS_BETTER))
        )
    return a > b if HIGHER_IS_BETTER[metric] else a < b


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, *, threshold: float, costs: CostSpec | None = None
) -> dict[str, Any]:
    """Binary metrics from 0/1 labels and positive-class probabilities."""
    y = np.asarray(y, dtype=np.int64)
    proba = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1 - 1e-15)
    predicted = (proba >= threshold).astype(np.int64)
    both = len(np.unique(y)) == 2
    tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    result: dict[str, Any] = {
        "roc_auc": float(skm.roc_auc_score(y, proba)) if both else math.nan,
        "pr_auc": float(skm.average_precision_score(y, proba)) if both else math.nan,
        "log_loss": float(skm.log_loss(y, proba, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y, proba)),
        "ece": expected_calibration_error(y, proba),
        "accuracy": float((predicted == y).mean()),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "f1": float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0,
        "threshold": float(threshold),
        "positive_rate": float(y.mean()),
        "confusion_matrix": [[int(tn), int(fp)], [int(fn), int(tp)]],
        "rows": len(y),
    }
    if costs is not None:
        result["expected_cost"] = float(
            (costs.false_positive * fp + costs.false_negative * fn) / len(y)
        )
    return result


def multiclass_metrics(y: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Multiclass metrics from class indices and an (n, k) probability matrix."""
    y = np.asarray(y, dtype=np.int64)
    labels = list(range(n_classes))
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    present = np.unique(y)
    try:
        auc = float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels))
    except ValueError:  # a class is absent from this sample
        auc = math.nan
    return {
        "log_loss": float(skm.log_loss(y, proba, labels=labels)),
        "roc_auc": auc,
        "accuracy": float((predicted == y).mean()),
        "f1": float(skm.f1_score(y, predicted, average="macro", labels=present)),
        "confusion_matrix": skm.confusion_matrix(y, predicted, labels=labels).tolist(),
        "rows": len(y),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R² and, where no target is zero, MAPE."""
    y = np.asarray(y, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    result: dict[str, Any] = {
        "rmse": float(np.sqrt(np.mean((y - predicted) ** 2))),
        "mae": float(np.mean(np.abs(y - predicted))),
        "r2": float(skm.r2_score(y, predicted)) if len(y) > 1 else math.nan,
        "rows": len(y),
    }
    if len(y) and np.all(y != 0):
        result["mape"] = float(np.mean(np.abs((y - predicted) / y)))
    return result


def one_metric(
    task: str,
    metric: str,
    y: np.ndarray,
    scores: np.ndarray,
    *,
    threshold: float = 0.5,
    costs: CostSpec | None = None,
    n_classes: int = 0,
) -> float:
    """``metric`` alone, equal to that entry of the task's full set of metrics (NaN where the
    full set would leave it out or make it NaN).

    The search scores every trial, and permutation importance every shuffled column, on one
    metric: the full set (for a multiclass model a one-vs-rest ROC AUC per class, F1 and a
    confusion matrix besides) would cost more than the prediction itself on small tables.

    >>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
    >>> one_metric("binary", "roc_auc", y, p), one_metric("binary", "f1", y, p)
    (0.75, 0.6666666666666666)
    >>> one_metric("regression", "rmse", np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    1.0
    """
    if task == "regression":
        if metric == "mape":
            y = np.asarray(y, dtype=np.float64)
            if not (len(y) and np.all(y != 0)):
                return math.nan
        value = regression_metrics(y, scores).get(metric, math.nan)
        return float(value)
    y = np.asarray(y, dtype=np.int64)
    if task == "multiclass":
        labels = list(range(n_classes))
        proba = np.clip(scores, 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        if metric == "log_loss":
            return float(skm.log_loss(y, proba, labels=labels))
        if metric == "roc_auc":
            try:
                return float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels))
            except ValueError:
                return math.nan
        predicted = proba.argmax(axis=1)
        if metric == "accuracy":
            return float((predicted == y).mean())
        if metric == "f1":
            return float(skm.f1_score(y, predicted, average="macro", labels=np.unique(y)))
        return math.nan
    proba = np.clip(np.asarray(scores, dtype=np.float64), 1e-15, 1 - 1e-15)
    both = len(np.unique(y)) == 2
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y, proba)) if both else math.nan
    if metric == "pr_auc":
        return float(skm.average_precision_score(y, proba)) if both else math.nan
    if metric == "log_loss":
        return float(skm.log_loss(y, proba, labels=[0, 1]))
    if metric == "brier":
        return float(skm.brier_score_loss(y, proba))
    if metric == "ece":
        return expected_calibration_error(y, proba)
    predicted = (proba >= threshold).astype(np.int64)
    if metric == "accuracy":
        return float((predicted == y).mean())
    tp = int(np.sum((predicted == 1) & (y == 1)))
    fp = int(np.sum((predicted == 1) & (y == 0)))
    fn = int(np.sum((predicted == 0) & (y == 1)))
    if metric == "precision":
        return float(tp / (tp + fp)) if tp + fp else 0.0
    if metric == "recall":
        return float(tp / (tp + fn)) if tp + fn else 0.0
    if metric == "f1":
        return float(2 * tp / (2 * tp + fp + fn)) if tp else 0.0
    if metric == "expected_cost" and costs is not None:
        return float((costs.false_positive * fp + costs.false_negative * fn) / len(y))
    return math.nan


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> float:
    """Weighted mean gap between predicted probability and observed rate, in equal-width bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, weights=proba, minlength=bins)
    observed = np.bincount(which, weights=y, minlength=bins)
    used = counts > 0
    gaps = np.abs(predicted[used] - observed[used]) / counts[used]
    return float(np.sum(gaps * counts[used]) / len(y))


def choose_threshold(y: np.ndarray, proba: np.ndarray, costs: CostSpec | None = None) -> float:
    """The decision threshold: least expected cost when costs are given, else best F1.

    >>> y = np.array([0, 0, 0, 1, 1]); p = np.array([0.1, 0.2, 0.45, 0.5, 0.9])
    >>> choose_threshold(y, p)
    0.5
    >>> choose_threshold(y, p, CostSpec(false_positive=1, false_negative=100))
    0.5
    """
    y = np.asarray(y, dtype=np.int64)
    order = np.argsort(-proba, kind="stable")
    sorted_p, sorted_y = proba[order], y[order]
    # Predicting positive for the top i rows, for every distinct cut.
    tp = np.cumsum(sorted_y)
    fp = np.cumsum(1 - sorted_y)
    last = np.r_[sorted_p[1:] != sorted_p[:-1], True]
    tp, fp, cuts = tp[last], fp[last], sorted_p[last]
    fn = tp[-1] - tp if len(tp) else tp
    if costs is not None:
        score = -(costs.false_positive * fp + costs.false_negative * fn)
    else:
        score = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    best = int(np.argmax(score))
    if costs is not None and -score[best] >= costs.false_negative * tp[-1]:
        return 1.0  # predicting no positives at all is cheapest
    return float(cuts[best])
