"""The trainer's shortcuts give the same answers as the slow way they replace."""

from __future__ import annotations

import lightgbm
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from forgeml.config import SplitSpec
from forgeml.errors import DataError
from forgeml.training import splits
from forgeml.training.importance import (
    MAX_ROWS,
    MIN_ROWS,
    TREE_BUDGET,
    plan_permutation,
    tree_count,
)
from forgeml.training.lgbm import fit_with_validation_scores
from forgeml.training.task import MAX_CLASSES, TargetInfo, check_leakage, infer_task

RNG = np.random.default_rng(7)


def _data(task: str, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.normal(size=(n, 6))
    x[RNG.random((n, 6)) < 0.05] = np.nan
    signal = np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 1]) ** 2 + RNG.normal(size=n)
    if task == "binary":
        return x, (signal > 0.5).astype(int)
    if task == "multiclass":
        return x, np.digitize(signal, [-0.3, 0.8])
    return x, signal


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize(
    ("trees", "rate"),
    [(2000, 0.05), (40, 0.05), (400, 0.5)],
    ids=["stops-early", "runs-to-the-cap", "stops-after-few-trees"],
)
def test_validation_scores_from_training_equal_a_fresh_prediction(
    task: str, trees: int, rate: float
) -> None:
    x, y = _data(task)
    kind = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    model = kind(n_estimators=trees, learning_rate=rate, verbose=-1, deterministic=True)
    best, scores, stopped = fit_with_validation_scores(
        model, x[:3000], y[:3000], x[3000:], y[3000:]
    )
    if task == "regression":
        expected = model.predict(x[3000:])
    else:
        expected = model.predict_proba(x[3000:])
        expected = expected[:, 1] if task == "binary" else expected
    assert best == model.best_iteration_ and not stopped
    assert scores is not None and scores.shape == expected.shape
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-10)


def _reference_leak(feature: pa.ChunkedArray, y: pa.ChunkedArray) -> bool:
    """The leakage rule for classification, by Arrow grouping (slow, obviously right)."""
    both = pc.and_(pc.is_valid(feature), pc.is_valid(y))
    f, t = pc.filter(feature, both), pc.filter(y, both)
    if len(t) < 10:
        return False
    n_values = pc.count_distinct(f).as_py()
    if n_values > max(MAX_CLASSES, len(t) // 2):
        return False
    pairs = pa.table({"f": f, "t": t}).group_by("f").aggregate([("t", "count_distinct")])
    return bool(pc.max(pairs.column("t_count_distinct")).as_py() == 1) and n_values >= 2


def _feature(kind: int, values: np.ndarray) -> pa.Array:
    if kind == 0:
        return pa.array(values / 7.0)
    if kind == 1:
        return pa.array(values)
    if kind == 2:
        return pa.array([f"v{v}" for v in values])
    if kind == 3:
        return pa.array(values.astype("datetime64[s]"))
    return pa.array(values % 2 == 0)


def test_leakage_check_agrees_with_grouping_on_random_columns() -> None:
    verdicts = []
    for trial in range(150):
        n = int(RNG.integers(10, 2000))
        distinct = int(RNG.integers(1, n + 5))
        values = RNG.integers(0, distinct, n)
        classes = RNG.integers(0, 3, n)
        if trial % 2:  # half of the targets are a function of the feature
            classes = RNG.integers(0, 3, distinct)[values]
        feature = _feature(trial % 5, values)
        if trial % 3 == 0:  # some missing feature values
            keep = pa.array(RNG.random(n) > 0.1)
            feature = pc.if_else(keep, feature, pa.scalar(None, feature.type))
        y = pa.array([f"c{c}" for c in classes])
        table = pa.table({"y": y, "f": feature})
        info = TargetInfo("y", "multiclass", sorted(set(y.to_pylist())))
        expected = _reference_leak(table.column("f"), table.column("y"))
        try:
            check_leakage(table, info, ["f"])
            found = False
        except DataError:
            found = True
        verdicts.append(expected)
        assert found == expected, (trial, n, distinct)
    assert 10 < sum(verdicts) < 140  # both outcomes were exercised


def test_a_leak_in_a_large_table_is_found_beyond_the_sampled_rows() -> None:
    n = 60_000
    y = RNG.integers(0, 2, n)
    status = np.where(y == 1, "written_off", "current").astype(object)
    table = pa.table({"y": y.astype(bool), "status": status, "noise": RNG.normal(size=n)})
    with pytest.raises(DataError, match="'status'"):
        check_leakage(table, infer_task(table, "y"), ["status", "noise"])
    # mixing that only rows outside the first sample show: no leak
    mixed = status.copy()
    mixed[n - 1] = "current" if y[n - 1] == 1 else "written_off"
    check_leakage(
        table.set_column(1, "status", pa.array(mixed)), infer_task(table, "y"), ["status"]
    )


def _text_labels(table: pa.Table, target: TargetInfo) -> np.ndarray:
    return np.asarray(table.column(target.column).to_pylist(), dtype=object).astype(str)


@pytest.mark.parametrize(
    "values",
    [
        RNG.integers(0, 2, 3000).astype(bool),
        RNG.integers(0, 12, 3000),  # '10' sorts before '2' as text
        RNG.integers(-3, 11, 3000),
        np.array(["b", "a", "c", "B"])[RNG.integers(0, 4, 3000)],
    ],
    ids=["bool", "ints", "negative-ints", "text"],
)
def test_stratified_splits_are_the_ones_drawn_with_text_labels(
    values: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.table({"y": values})
    info = infer_task(table, "y", "binary" if values.dtype == bool else "multiclass")
    fast = splits.make_split(table, SplitSpec(), info, seed=3)
    fast_folds = splits.cv_folds(table, fast.train, SplitSpec(), info, seed=1)
    monkeypatch.setattr(splits, "_labels", _text_labels)
    slow = splits.make_split(table, SplitSpec(), info, seed=3)
    slow_folds = splits.cv_folds(table, fast.train, SplitSpec(), info, seed=1)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            (fast.train, fast.valid, fast.test), (slow.train, slow.valid, slow.test), strict=True
        )
    )
    for (a_train, a_valid), (b_train, b_valid) in zip(fast_folds, slow_folds, strict=True):
        assert np.array_equal(a_train, b_train) and np.array_equal(a_valid, b_valid)


def test_permutation_importance_stays_within_its_budget() -> None:
    small = plan_permutation(100_000, groups=30, trees=100)
    assert (small.rows, small.repeats, small.note) == (MAX_ROWS, 2, None)
    few_rows = plan_permutation(300, groups=30, trees=None)
    assert (few_rows.rows, few_rows.repeats) == (300, 2)
    large = plan_permutation(200_000, groups=30, trees=2000)
    assert MIN_ROWS <= large.rows < MAX_ROWS and large.repeats == 1
    assert large.rows * (30 * large.repeats + 1) * 2000 <= TREE_BUDGET
    assert large.note is not None and "2,000 trees" in large.note
    huge = plan_permutation(200_000, groups=400, trees=3000)
    assert huge.rows == 0 and huge.note is not None and huge.note.startswith("skipped")


def test_tree_counts_follow_the_trees_a_prediction_walks() -> None:
    x = RNG.normal(size=(1500, 3))
    y = np.digitize(x[:, 0] + RNG.normal(size=1500), [-0.5, 0.5])  # 3 classes
    boosted = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(x, y)
    assert tree_count(boosted) == 60  # one tree per class and round
    assert tree_count(lightgbm.Booster(model_str=boosted.booster_.model_to_string())) == 60
    forest = RandomForestClassifier(n_estimators=7, random_state=0).fit(x, y)
    assert tree_count(forest) == 7
    assert tree_count(LogisticRegression().fit(x, y)) is None
