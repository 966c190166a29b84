"""Bundles round-trip with identical predictions and are verified before anything is parsed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pytest
import skops.io
import xgboost
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from forgeml.artifacts import LocalArtifactStore
from forgeml.errors import ArtifactError, ConfigError, IntegrityError
from forgeml.registry import ModelBundle, load_bundle, save_bundle
from forgeml.registry.bundle import read_manifest

XY = tuple[np.ndarray, np.ndarray]
Case = Callable[[XY], tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]]


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "artifacts")


def _lightgbm(xy: XY) -> tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]:
    x, y = xy
    model = lightgbm.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(x, y)
    return ModelBundle("lightgbm", model, {}), lambda b: b.estimator.predict(x)


def _xgboost(xy: XY) -> tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]:
    x, y = xy
    model = xgboost.XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1).fit(x, y)
    return ModelBundle("xgboost", model, {}), lambda b: b.estimator.predict(xgboost.DMatrix(x))


def _logistic(xy: XY) -> tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]:
    x, y = xy
    model = LogisticRegression().fit(x, y)
    return ModelBundle("sklearn", model, {}), lambda b: b.estimator.predict_proba(x)


def _hist_gradient_boosting(xy: XY) -> tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]:
    x, _ = xy
    model = HistGradientBoostingRegressor(max_iter=10).fit(x, x[:, 0] * 2 + x[:, 1])
    return ModelBundle("sklearn", model, {}), lambda b: b.estimator.predict(x)


def _calibrated(xy: XY) -> tuple[ModelBundle, Callable[[ModelBundle], np.ndarray]]:
    x, y = xy
    model = LogisticRegression().fit(x, y)
    scores = model.decision_function(x)
    calibrator = IsotonicRegression(out_of_bounds="clip").fit(scores, y)
    bundle = ModelBundle("sklearn", model, {}, calibrator=calibrator)
    return bundle, lambda b: b.calibrator.predict(b.estimator.decision_function(x))


@pytest.mark.parametrize(
    "case", [_lightgbm, _xgboost, _logistic, _hist_gradient_boosting, _calibrated]
)
def test_round_trip_gives_identical_predictions(
    case: Case, xy: XY, store: LocalArtifactStore
) -> None:
    bundle, predict = case(xy)
    features = {"columns": ["a", "b", "c", "d"], "medians": np.array([0.5, 1.5])}
    extras = {"task": "binary", "threshold": np.float64(0.4), "classes": [0, 1]}
    original = ModelBundle(bundle.flavor, bundle.estimator, features, extras, bundle.calibrator)
    expected = predict(_as_loaded(original))

    loaded = load_bundle(save_bundle(original, store), store)

    assert loaded.flavor == original.flavor
    assert loaded.features == {"columns": ["a", "b", "c", "d"], "medians": [0.5, 1.5]}
    assert loaded.extras == {"task": "binary", "threshold": 0.4, "classes": [0, 1]}
    assert (loaded.calibrator is None) == (original.calibrator is None)
    np.testing.assert_array_equal(predict(loaded), expected)


def _as_loaded(bundle: ModelBundle) -> ModelBundle:
    """The bundle holding what loading returns: boosters for the boosting flavors."""
    estimator = bundle.estimator
    if isinstance(estimator, lightgbm.LGBMModel):
        estimator = estimator.booster_
    elif isinstance(estimator, xgboost.XGBModel):
        estimator = estimator.get_booster()
    return ModelBundle(bundle.flavor, estimator, bundle.features, bundle.extras, bundle.calibrator)


def test_boosting_wrappers_and_their_boosters_give_the_same_bundle(
    xy: XY, store: LocalArtifactStore
) -> None:
    bundle, _ = _lightgbm(xy)
    from_wrapper = save_bundle(bundle, store)
    from_booster = save_bundle(_as_loaded(bundle), store)
    assert from_wrapper == from_booster
    manifest = read_manifest(from_wrapper, store)
    assert manifest["format"] == 1 and manifest["flavor"] == "lightgbm"
    assert set(manifest["parts"]) == {"model"}
    assert store.get_bytes(manifest["parts"]["model"]).startswith(b"tree\n")


def _tamper(store: LocalArtifactStore, sha256: str) -> None:
    path = next(store.root.rglob(sha256))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("part", ["manifest", "model", "calibrator"])
def test_tampered_bytes_are_refused_before_parsing(
    part: str, xy: XY, store: LocalArtifactStore
) -> None:
    bundle, _ = _calibrated(xy)
    bundle_id = save_bundle(bundle, store)
    parts = read_manifest(bundle_id, store)["parts"]
    _tamper(store, bundle_id if part == "manifest" else parts[part])
    with pytest.raises(IntegrityError, match="is corrupt"):
        load_bundle(bundle_id, store)


class Tracked:
    """Records every instance skops would build, to prove a refused part builds nothing."""

    built: list[object] = []  # noqa: RUF012 (shared on purpose)

    def __init__(self) -> None:
        self.value = 1

    def __setstate__(self, state: dict[str, Any]) -> None:
        Tracked.built.append(self)
        self.__dict__.update(state)


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        ({"model": Tracked()}, "Tracked"),
        ({"f": np.load}, "numpy.load"),
        ({"f": np.testing.assert_equal}, "numpy.testing"),
        ({"f": eval}, "builtins.eval"),
    ],
)
def test_skops_parts_with_types_outside_the_allow_list_are_refused(
    payload: dict[str, Any], refused: str, store: LocalArtifactStore
) -> None:
    part = store.put_bytes(skops.io.dumps(payload))
    manifest = {"format": 1, "flavor": "sklearn", "parts": {"model": part}}
    bundle_id = store.put_bytes(json.dumps({**manifest, "features": {}, "extras": {}}).encode())
    with pytest.raises(ArtifactError, match=f"outside the allow-list: .*{refused}"):
        load_bundle(bundle_id, store)
    assert Tracked.built == []


def test_saving_refuses_what_could_not_be_loaded_back(store: LocalArtifactStore) -> None:
    with pytest.raises(ConfigError, match=r"will not load back: .*Tracked"):
        save_bundle(ModelBundle("sklearn", {"model": Tracked()}, {}), store)
    assert not list(store.root.rglob("sha256/*/*"))


def test_estimators_must_match_their_flavor(xy: XY, store: LocalArtifactStore) -> None:
    x, y = xy
    with pytest.raises(ConfigError, match=r"flavor 'lightgbm' needs a lightgbm\.Booster"):
        save_bundle(ModelBundle("lightgbm", LogisticRegression().fit(x, y), {}), store)
    with pytest.raises(ConfigError, match=r"flavor 'xgboost' needs an xgboost\.Booster"):
        save_bundle(ModelBundle("xgboost", LogisticRegression().fit(x, y), {}), store)
    with pytest.raises(ConfigError, match="LGBMClassifier is not fitted"):
        save_bundle(ModelBundle("lightgbm", lightgbm.LGBMClassifier(), {}), store)
    with pytest.raises(ConfigError, match="unknown model flavor 'h2o'"):
        save_bundle(ModelBundle("h2o", object(), {}), store)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"flavor 'torch' needs a torch model"):
        save_bundle(ModelBundle("torch", LogisticRegression().fit(x, y), {}), store)


def test_features_and_extras_must_be_json(xy: XY, store: LocalArtifactStore) -> None:
    model = LogisticRegression().fit(*xy)
    with pytest.raises(ConfigError, match="features cannot be stored as JSON"):
        save_bundle(ModelBundle("sklearn", model, {"scaler": object()}), store)
    with pytest.raises(ConfigError, match="extras cannot be stored as JSON"):
        save_bundle(ModelBundle("sklearn", model, {}, {"threshold": float("nan")}), store)


def test_an_artifact_that_is_not_a_manifest_is_refused(store: LocalArtifactStore) -> None:
    not_json = store.put_bytes(b"PAR1 parquet bytes")
    with pytest.raises(ArtifactError, match="is not a model bundle: it is not a bundle manifest"):
        load_bundle(not_json, store)
    newer = store.put_bytes(json.dumps({"format": 2, "parts": {}}).encode())
    with pytest.raises(ArtifactError, match="manifest format 2"):
        load_bundle(newer, store)
    odd = store.put_bytes(
        json.dumps(
            {"format": 1, "flavor": "h2o", "parts": {"model": "../x"}, "features": {}}
        ).encode()
    )
    with pytest.raises(ArtifactError, match="unknown flavor 'h2o'; a part that is not"):
        load_bundle(odd, store)


SCORE_ONLY = """
import json, sys
import numpy as np
from forgeml.artifacts import LocalArtifactStore
from forgeml.registry.libraries import score_only
from forgeml.registry import load_bundle
score_only()
bundle = load_bundle(sys.argv[1], LocalArtifactStore(sys.argv[2]))
rows = np.asarray(json.loads(sys.argv[3]))
if sys.argv[4] == "xgboost":
    import xgboost
    rows = xgboost.DMatrix(rows)
scores = bundle.estimator.predict(rows)
print(json.dumps({"scores": np.asarray(scores).tolist(), "sklearn": "sklearn" in sys.modules}))
"""


@pytest.mark.parametrize("case", [_lightgbm, _xgboost])
def test_a_scoring_only_process_loads_boosters_without_scikit_learn(
    case: Case, xy: XY, store: LocalArtifactStore, tmp_path: Path
) -> None:
    bundle, _ = case(xy)
    sha256 = save_bundle(bundle, store)
    loaded = load_bundle(sha256, store)
    x = xy[0][:5]
    rows = xgboost.DMatrix(x) if bundle.flavor == "xgboost" else x
    expected = np.asarray(loaded.estimator.predict(rows))
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCORE_ONLY,
            sha256,
            str(tmp_path / "artifacts"),
            json.dumps(x.tolist()),
            bundle.flavor,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "PYTHONPATH": src},
    )
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["sklearn"] is False
    np.testing.assert_allclose(reply["scores"], expected, rtol=0, atol=1e-12)
