"""Calibration, slices and importance on real models and data."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest
from sklearn.metrics import log_loss

from forgeml.training.calibration import apply_calibration, choose_calibration
from forgeml.training.importance import group_features, native_gain, permutation_importance
from forgeml.training.slices import flagged, slice_metrics

RNG = np.random.default_rng(0)


def test_calibration_fixes_overconfident_probabilities_on_fresh_data() -> None:
    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        truth = RNG.uniform(0.05, 0.95, n)
        y = (RNG.uniform(size=n) < truth).astype(int)
        overconfident = 1 / (1 + np.exp(-3 * np.log(truth / (1 - truth))))
        return y, overconfident

    y_valid, p_valid = sample(4000)
    y_test, p_test = sample(4000)
    calibration = choose_calibration(y_valid, p_valid, seed=0)
    assert calibration is not None and calibration.gain > 0
    fixed = apply_calibration(calibration.method, calibration.model, p_test)
    assert log_loss(y_test, fixed) < log_loss(y_test, p_test) - 0.01


def test_slices_cover_every_value_including_missing() -> None:
    region = np.array(["north"] * 60 + ["south"] * 40 + [None] * 5, dtype=object)
    correct = np.r_[np.ones(60), np.zeros(40), np.ones(5)]

    def score(rows: np.ndarray) -> dict[str, float]:
        return {"accuracy": float(correct[rows].mean()), "rows": len(rows)}

    found = slice_metrics({"region": region}, score)
    assert list(found["region"]) == ["north", "south", "(missing)"]
    assert found["region"]["south"] == {"accuracy": 0.0, "rows": 40}
    assert flagged(found, {"accuracy": 0.62}, "accuracy", min_rows=30) == [("region", "south", 0.0)]
    assert flagged(found, {"accuracy": 0.62}, "accuracy", min_rows=50) == []


def test_importance_finds_the_signal_and_gain_agrees() -> None:
    x = RNG.normal(size=(3000, 3))
    y = (x[:, 1] + 0.1 * RNG.normal(size=3000) > 0).astype(int)
    model = lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=0).fit(x, y)
    names = ["age", "income", "income__missing"]
    groups = group_features(names, ["age", "income"])
    assert groups == {"age": [0], "income": [1, 2]}
    drop = permutation_importance(
        x, lambda m: float((model.predict(m) == y[: len(m)]).mean()), groups, seed=0
    )
    assert next(iter(drop)) == "income" and drop["income"] > 0.3 > abs(drop["age"])
    gain = native_gain(model, names)
    assert gain is not None and max(gain, key=gain.__getitem__) == "income"


def test_xgboost_booster_gain_and_balanced_weights() -> None:
    import xgboost

    from forgeml.training.candidates import balanced_weights

    x = RNG.normal(size=(500, 2))
    y = (x[:, 0] > 1).astype(int)  # about 16% positives
    weights = balanced_weights(y)
    assert weights[y == 1].sum() == pytest.approx(weights[y == 0].sum())
    booster = xgboost.XGBClassifier(n_estimators=10).fit(x, y, sample_weight=weights)
    gain = native_gain(booster.get_booster()[:5], ["signal", "noise"])
    assert gain is not None and gain["signal"] > gain["noise"]


def test_calibration_can_be_required() -> None:
    p = RNG.uniform(size=4000)
    y = (RNG.uniform(size=4000) < p).astype(int)
    assert choose_calibration(y, p, seed=0) is None  # already calibrated: no gain
    assert choose_calibration(y, p, seed=0, required=True) is not None


def _multiclass_sample(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logits = RNG.normal(size=(n, 3)) * 1.2
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (RNG.uniform(size=(n, 1)) > truth.cumsum(axis=1)).sum(axis=1)
    sharp = np.exp(3 * logits)
    return y, truth, sharp / sharp.sum(axis=1, keepdims=True)


def test_multiclass_calibration_fixes_overconfident_probabilities_on_fresh_data() -> None:
    y_valid, _truth, p_valid = _multiclass_sample(4000)
    y_test, truth_test, p_test = _multiclass_sample(4000)
    calibration = choose_calibration(y_valid, p_valid, seed=0)
    assert calibration is not None and calibration.method in ("isotonic_ovr", "sigmoid_ovr")
    fixed = apply_calibration(calibration.method, calibration.model, p_test)
    np.testing.assert_allclose(fixed.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert log_loss(y_test, fixed) < log_loss(y_test, p_test) - 0.05
    # probabilities that are already right are left alone
    assert choose_calibration(y_test, truth_test, seed=0) is None
