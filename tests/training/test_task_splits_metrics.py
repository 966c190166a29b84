"""Task inference, target checks, splits and metrics: the parts of training with no model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from forgeml.config import CostSpec, SplitSpec
from forgeml.errors import ConfigError, DataError
from forgeml.training.metrics import (
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
    multiclass_metrics,
    regression_metrics,
)
from forgeml.training.splits import cv_folds, make_split, time_split_warning
from forgeml.training.task import TargetInfo, check_leakage, infer_task

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([True, False] * 10, "binary"),
        (["a", "b", "c"] * 10, "multiclass"),
        ([0, 1, 2, 0] * 5, "multiclass"),
        ([0.5, 1.5, 2.25] * 10, "regression"),
        (list(range(100)), "regression"),
        ([1.0, 0.0] * 10, "binary"),
    ],
)
def test_task_is_inferred_from_the_target(values: list[object], task: str) -> None:
    assert infer_task(pa.table({"y": values}), "y").task == task


def test_target_problems_are_clear() -> None:
    table = pa.table({"income": [1, 2, 3], "defaulted": [None, None, None], "same": [1, 1, 1]})
    with pytest.raises(ConfigError, match="did you mean 'defaulted'"):
        infer_task(table, "defualted")
    with pytest.raises(ConfigError, match="no target column is set"):
        infer_task(table, None)
    with pytest.raises(DataError, match="every value is missing"):
        infer_task(table, "defaulted")
    with pytest.raises(DataError, match="single value"):
        infer_task(table, "same")
    with pytest.raises(ConfigError, match="needs 2 classes"):
        infer_task(pa.table({"y": ["a", "b", "c"] * 4}), "y", "binary")


def test_a_feature_identical_to_the_target_is_refused() -> None:
    y = RNG.integers(0, 2, 200)
    table = pa.table(
        {
            "y": y,
            "copy": y,
            "relabelled": np.where(y == 1, "yes", "no"),
            "honest": RNG.normal(size=200),
            "customer_id": np.arange(200),
        }
    )
    target = infer_task(table, "y")
    with pytest.raises(DataError, match="'copy', 'relabelled'"):
        check_leakage(table, target, ["copy", "relabelled", "honest", "customer_id"])
    check_leakage(table, target, ["honest", "customer_id"])  # no error


def test_regression_leak_by_perfect_correlation() -> None:
    y = RNG.normal(size=100)
    table = pa.table({"y": y, "scaled": y * 3 + 1, "noise": RNG.normal(size=100)})
    with pytest.raises(DataError, match="'scaled'"):
        check_leakage(table, infer_task(table, "y"), ["scaled", "noise"])


def _parts(split: object) -> list[np.ndarray]:
    return [split.train, split.valid, split.test]  # type: ignore[attr-defined]


def test_random_and_stratified_splits_partition_the_rows() -> None:
    y = np.r_[np.zeros(900), np.ones(100)].astype(int)
    table = pa.table({"y": y})
    target = TargetInfo("y", "binary", [0, 1])
    split = make_split(table, SplitSpec(), target, seed=3)
    joined = np.sort(np.concatenate(_parts(split)))
    assert np.array_equal(joined, np.arange(1000))
    for part in _parts(split):
        assert abs(y[part].mean() - 0.1) < 0.01  # stratified
    again = make_split(table, SplitSpec(), target, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(_parts(split), _parts(again), strict=True))


def test_time_split_never_trains_on_the_future() -> None:
    times = np.repeat(np.arange(50), 20)  # 20 rows share each timestamp
    RNG.shuffle(times)
    table = pa.table(
        {"t": pa.array(times * 86_400_000_000, pa.timestamp("us")), "y": RNG.integers(0, 2, 1000)}
    )
    split = make_split(table, SplitSpec(time_column="t"), TargetInfo("y", "binary", [0, 1]), seed=0)
    assert split.method == "time"
    assert times[split.train].max() < times[split.valid].min()
    assert times[split.valid].max() < times[split.test].min()
    for train, valid in cv_folds(
        table, split.train, SplitSpec(time_column="t"), TargetInfo("y", "binary", [0, 1]), seed=0
    ):
        assert times[train].max() <= times[valid].min()


def test_a_random_split_of_rows_with_a_time_column_warns_and_names_the_fix() -> None:
    table = pa.table(
        {
            "at": pa.array(np.arange(200) * 3_600_000_000, pa.timestamp("us")),
            "y": RNG.integers(0, 2, 200),
        }
    )
    target = TargetInfo("y", "binary", [0, 1])
    warning = time_split_warning(table, make_split(table, SplitSpec(), target, seed=0))
    assert warning is not None
    assert warning.startswith("warning: the data has a time column ('at')")
    assert "set train.split.time_column: at" in warning
    by_time = make_split(table, SplitSpec(time_column="at"), target, seed=0)
    assert time_split_warning(table, by_time) is None
    timeless = table.drop_columns(["at"])
    assert time_split_warning(timeless, make_split(timeless, SplitSpec(), target, seed=0)) is None


def test_group_split_keeps_each_group_on_one_side() -> None:
    groups = RNG.integers(0, 60, 1000).astype(str)
    table = pa.table({"customer": groups, "y": RNG.normal(size=1000)})
    spec = SplitSpec(group_column="customer")
    split = make_split(table, spec, TargetInfo("y", "regression"), seed=0)
    sides = [set(groups[p]) for p in _parts(split)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])


def test_binary_metrics_match_scikit_learn() -> None:
    y = RNG.integers(0, 2, 500)
    p = np.clip(y * 0.3 + RNG.uniform(0, 0.7, 500), 0, 1)
    m = classification_metrics(y, p, threshold=0.5, costs=CostSpec(false_negative=5))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)))
    assert m["f1"] == pytest.approx(skm.f1_score(y, p >= 0.5))
    _tn, fp, fn, _tp = skm.confusion_matrix(y, p >= 0.5).ravel()
    assert m["expected_cost"] == pytest.approx((fp + 5 * fn) / 500)


def test_ece_is_zero_when_calibrated_and_large_when_not() -> None:
    p = RNG.uniform(size=200_000)
    y = (RNG.uniform(size=200_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p * 0.5, 0, 1)) > 0.2


def test_threshold_minimises_expected_cost() -> None:
    rng = np.random.default_rng(3)  # its own draws: the result must not depend on test order
    y = rng.integers(0, 2, 2000)
    p = 1 / (1 + np.exp(-((2 * y - 1) + rng.normal(0, 1, 2000))))  # the classes overlap
    costs = CostSpec(false_positive=1, false_negative=10)
    chosen = choose_threshold(y, p, costs)
    grid = np.unique(p)[:, None]
    positive = p[None, :] >= grid
    every = ((positive & (y == 0)).sum(axis=1) + 10 * (~positive & (y == 1)).sum(axis=1)) / 2000
    best = classification_metrics(y, p, threshold=chosen, costs=costs)["expected_cost"]
    assert best == pytest.approx(every.min())
    assert chosen < choose_threshold(y, p)  # costly misses push the threshold down


def test_multiclass_and_regression_metrics() -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3]])
    m = multiclass_metrics(y, proba, 3)
    assert m["accuracy"] == 0.75 and m["confusion_matrix"][2] == [0, 1, 1]
    r = regression_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0]))
    assert r["mae"] == pytest.approx(1 / 3) and r["rmse"] == pytest.approx(np.sqrt(1 / 3))
    assert "mape" not in regression_metrics(np.array([0.0, 1.0]), np.array([0.0, 1.0]))


def test_user_estimators_get_the_seed_and_class_weight() -> None:
    from forgeml.training.candidates import candidate

    forest = candidate("sklearn.ensemble:RandomForestClassifier")
    built = forest.build("binary", {}, 7, "balanced")
    assert built.random_state == 7 and built.class_weight == "balanced"
    assert candidate("sklearn.neighbors:KNeighborsClassifier").build("binary", {}, 7, None)
