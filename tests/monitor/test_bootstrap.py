"""Bootstrap intervals: one metric's, and the paired difference of two models on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from forgeml.monitor.bootstrap import interval, metric_value, paired_difference


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    y = (signal + rng.normal(size=n) > 0).astype(np.int64)
    return y, signal


def test_the_fast_auc_matches_scikit_learn_with_ties() -> None:
    y, signal = _rows(300, 1)
    scores = np.round(1 / (1 + np.exp(-signal)), 1)  # ten distinct values: many ties
    assert metric_value("roc_auc", "binary", y, scores) == pytest.approx(roc_auc_score(y, scores))
    assert metric_value("roc_auc", "binary", np.zeros(5, dtype=np.int64), scores[:5]) is None


def test_a_model_compared_with_itself_differs_by_nothing() -> None:
    y, signal = _rows(300, 2)
    scores = 1 / (1 + np.exp(-signal))
    assert paired_difference("roc_auc", "binary", y, scores, scores) == (0.0, 0.0)


def test_a_clearly_better_model_is_better_beyond_doubt_and_a_worse_one_worse() -> None:
    y, signal = _rows(400, 3)
    rng = np.random.default_rng(4)
    good = 1 / (1 + np.exp(-signal))
    poor = 1 / (1 + np.exp(-(signal + 2 * rng.normal(size=len(y)))))
    low, high = paired_difference("roc_auc", "binary", y, poor, good)
    assert low is not None and high is not None and 0 < low < high
    low, high = paired_difference("log_loss", "binary", y, good, poor)  # lower is better
    assert high is not None and high < 0


def test_pairing_sees_a_small_gain_that_two_separate_intervals_would_not() -> None:
    # the same rows' difficulty cancels in the paired difference
    y, signal = _rows(300, 5)
    rng = np.random.default_rng(6)
    noise = rng.normal(size=len(y))
    theirs = signal + 0.6 * noise
    ours = signal + 0.45 * noise
    low, _ = paired_difference("roc_auc", "binary", y, theirs, ours)
    assert low is not None and low > 0

    def auc_of(scores: np.ndarray) -> tuple[float | None, float | None]:
        return interval(
            len(y), lambda pick: metric_value("roc_auc", "binary", y[pick], scores[pick])
        )

    (_, their_high), (our_low, _) = auc_of(theirs), auc_of(ours)
    assert their_high is not None and our_low is not None
    assert our_low < their_high  # unpaired, the two intervals overlap


def test_an_interval_needs_rows_and_a_computable_statistic() -> None:
    assert interval(1, lambda pick: 1.0) == (None, None)
    assert interval(50, lambda pick: None) == (None, None)


def test_regression_and_multiclass_metrics() -> None:
    y = np.array([1.0, 2.0, 3.0])
    assert metric_value("rmse", "regression", y, y + 1) == pytest.approx(1.0)
    assert metric_value("mae", "regression", y, y - 2) == pytest.approx(2.0)
    classes = np.array([0, 1, 2])
    proba = np.eye(3)[[0, 1, 0]] * 0.8 + 0.2 / 3
    assert metric_value("accuracy", "multiclass", classes, proba) == pytest.approx(2 / 3)
