"""A trivial baseline: what a model that ignores every input would score.

The default gate asks a candidate to beat it: the majority class (binary and multiclass:
the class frequencies of the training rows, as probabilities) or the mean of the training
target (regression), scored on the same held-out rows as the candidate.

>>> from forgeml.config import TrainSpec
>>> from forgeml.training.task import TargetInfo
>>> info = TargetInfo(column="y", task="regression", classes=None)
>>> baseline_metrics(info, np.array([1.0, 3.0]), np.array([2.0, 2.0]), TrainSpec())["rmse"]
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forgeml.config import TrainSpec
from forgeml.training.evaluation import score
from forgeml.training.task import TargetInfo

__all__ = ["baseline_metrics"]


def baseline_metrics(
    info: TargetInfo, y_train: np.ndarray, y_test: np.ndarray, spec: TrainSpec
) -> dict[str, Any]:
    """The baseline's metrics on ``y_test``, learnt from ``y_train`` (encoded targets)."""
    n = len(y_test)
    if info.task == "regression":
        mean = float(np.mean(y_train)) if len(y_train) else 0.0
        return score(info, np.full(n, mean), y_test, None, spec) | {
            "predictor": f"the training mean, {mean:.4g}"
        }
    k = len(info.classes or [])
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=k)
    shares = counts / max(counts.sum(), 1)
    majority = (info.classes or [])[int(np.argmax(counts))] if k else None
    described = f"the majority class {majority!r} at its training share"
    if info.task == "binary":
        return score(info, np.full(n, shares[1]), y_test, 0.5, spec) | {"predictor": described}
    return score(info, np.tile(shares, (n, 1)), y_test, None, spec) | {"predictor": described}
