"""The search and permutation importance score on one metric, the same value as the full set."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forgeml.config import CostSpec
from forgeml.training import metrics as m


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
def test_each_binary_metric_equals_the_full_set(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=300)
    p = np.clip(0.3 * y + rng.uniform(size=300) * 0.7, 0.0, 1.0)
    p[:3] = [0.0, 1.0, 0.5]  # clipped ends and a tie at the threshold
    costs = CostSpec(false_positive=1.0, false_negative=4.0)
    for threshold in (0.5, 0.31):
        full = m.classification_metrics(y, p, threshold=threshold, costs=costs)
        for metric in m.TASK_METRICS["binary"]:
            one = m.one_metric("binary", metric, y, p, threshold=threshold, costs=costs)
            assert _same(one, full[metric]), metric


def test_binary_with_one_class_gives_nan_where_the_full_set_does() -> None:
    y = np.zeros(20, dtype=int)
    p = np.linspace(0.0, 1.0, 20)
    full = m.classification_metrics(y, p, threshold=0.5)
    for metric in ("roc_auc", "pr_auc", "log_loss", "accuracy", "f1", "precision", "recall"):
        assert _same(m.one_metric("binary", metric, y, p), full[metric]), metric
    assert math.isnan(m.one_metric("binary", "roc_auc", y, p))
    assert math.isnan(m.one_metric("binary", "expected_cost", y, p))  # no costs: not computed


def test_each_multiclass_metric_equals_the_full_set() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=200)
    proba = rng.uniform(size=(200, 4)) + np.eye(4)[y]
    full = m.multiclass_metrics(y, proba, 4)
    for metric in m.TASK_METRICS["multiclass"]:
        assert _same(m.one_metric("multiclass", metric, y, proba, n_classes=4), full[metric])


@pytest.mark.filterwarnings("ignore:Only one class is present")
def test_multiclass_with_a_class_absent_gives_nan_auc_as_the_full_set_does() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, size=200)
    proba = rng.uniform(size=(200, 4)) + np.eye(4)[y]
    absent = y[y != 3]  # a class missing from the sample: no one-vs-rest AUC
    full = m.multiclass_metrics(absent, proba[y != 3], 4)
    assert math.isnan(full["roc_auc"])
    assert math.isnan(m.one_metric("multiclass", "roc_auc", absent, proba[y != 3], n_classes=4))
    assert _same(m.one_metric("multiclass", "f1", absent, proba[y != 3], n_classes=4), full["f1"])


def test_each_regression_metric_equals_the_full_set() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=100) + 5.0
    predicted = y + rng.normal(size=100)
    full = m.regression_metrics(y, predicted)
    for metric in m.TASK_METRICS["regression"]:
        assert _same(m.one_metric("regression", metric, y, predicted), full[metric]), metric
    y[0] = 0.0  # MAPE is not computed when a target is zero
    assert "mape" not in m.regression_metrics(y, predicted)
    assert math.isnan(m.one_metric("regression", "mape", y, predicted))
