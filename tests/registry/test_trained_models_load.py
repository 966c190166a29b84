"""Every model forgeml trains, calibrated or not, is stored, loaded and predicts the same."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import skops.io

from forgeml.artifacts import LocalArtifactStore
from forgeml.features import FeaturePipeline
from forgeml.registry import ModelBundle, load_bundle, save_bundle
from forgeml.registry.trust import refused_types
from forgeml.training.calibration import METHODS, apply_calibration, choose_calibration
from forgeml.training.candidates import BUILTIN, candidate
from forgeml.training.predict import Predictor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(500, 4))
X[RNG.random(X.shape) < 0.05] = np.nan
TARGETS = {
    "binary": (np.nan_to_num(X[:, 0]) + RNG.normal(size=500) > 0).astype(np.int64),
    "multiclass": np.digitize(np.nan_to_num(X[:, 0]) + RNG.normal(size=500), [-0.5, 0.5]),
    "regression": np.nan_to_num(X[:, 0]) * 2 + RNG.normal(size=500),
}
SMALL = {
    "hist_gradient_boosting": {"max_iter": 15},
    "extra_trees": {"n_estimators": 4},
    "mlp": {"width": 16, "layers": 1, "batch_size": 128},
    "lightgbm": {"n_estimators": 15, "n_jobs": 1},
    "xgboost": {"n_estimators": 15, "n_jobs": 1},
    "sklearn.ensemble:RandomForestClassifier": {"n_estimators": 4},
    "sklearn.ensemble:RandomForestRegressor": {"n_estimators": 4},
}
CASES = [
    (name, task)
    for name in [*BUILTIN, "sklearn.ensemble:RandomForestClassifier"]
    for task in TARGETS
    if not (name.endswith("Classifier") and task == "regression")
] + [("sklearn.ensemble:RandomForestRegressor", "regression")]


COLUMNS = {f"x{j}": X[:, j] for j in range(X.shape[1])}
SCHEMA = {"columns": [{"name": name, "kind": "float"} for name in COLUMNS]}


@pytest.mark.parametrize(("name", "task"), CASES)
@pytest.mark.parametrize("timed", [False, True], ids=["to-the-end", "under-a-deadline"])
def test_each_trained_model_round_trips_with_its_calibration(
    name: str, task: str, timed: bool, tmp_path: Path
) -> None:
    chosen = candidate(name)
    pipeline = FeaturePipeline.fit(COLUMNS, SCHEMA, target=None, strategy=chosen.strategy)
    x = pipeline.transform(COLUMNS)
    features = pipeline.to_dict()
    y = TARGETS[task]
    deadline = time.monotonic() + 120 if timed else None
    class_weight = "balanced" if task != "regression" else None
    fitted = chosen.fit(
        task,
        SMALL.get(name, {}),
        0,
        class_weight,
        x[:350],
        y[:350],
        x[350:],
        y[350:],
        deadline=deadline,
    )
    model = fitted.estimator
    if chosen.flavor == "xgboost":  # a stored XGBoost model is its booster
        model = model.get_booster()
    calibration = None
    extras: dict[str, object] = {"task": task}
    if task != "regression":
        raw = Predictor(ModelBundle(chosen.flavor, model, features, {"task": task}))._raw(x)
        calibration = choose_calibration(y, raw, seed=0, required=True)
        assert calibration is not None and calibration.method in METHODS
        extras["calibration"] = calibration.method
    bundle = ModelBundle(
        chosen.flavor,
        model,
        features,
        extras,
        calibrator=calibration.model if calibration else None,
    )
    store = LocalArtifactStore(tmp_path / "artifacts")
    loaded = load_bundle(save_bundle(bundle, store), store)
    before = Predictor(bundle)._raw(x)
    after = Predictor(loaded)._raw(x)
    np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)
    if calibration is not None:
        np.testing.assert_allclose(
            apply_calibration(calibration.method, loaded.calibrator, after),
            apply_calibration(calibration.method, calibration.model, before),
            rtol=1e-9,
            atol=1e-12,
        )
    if chosen.flavor == "sklearn":
        assert refused_types(skops.io.dumps(fitted.estimator)) == []
