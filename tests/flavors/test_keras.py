"""Keras 3 models: logged as .keras, loaded in safe mode, code-naming configs refused."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import forgeml
from flavors.conftest import write_keras_archive
from forgeml.errors import UntrustedModel
from forgeml.flavors import keras_flavor
from forgeml.project import Project
from forgeml.registry import save_bundle
from forgeml.registry.bundle import ModelBundle, load_bundle, read_manifest

keras_flavor.use_backend()
keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def model() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def test_a_keras_model_is_logged_and_loaded_in_safe_mode(
    byo_project: Project, model: Any, no_pickle: None
) -> None:
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    version = forgeml.log_model(
        model,
        name="keras",
        signature_from=x,
        task="binary",
        classes=["no", "yes"],
        project=byo_project,
    )
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    assert manifest["formats"] == {"model": "keras"}
    loaded = forgeml.load_model(version.ref, project=byo_project)
    # the original object's outputs, through the same call
    np.testing.assert_allclose(loaded.predict_proba(x), keras_flavor.predict(model, x), atol=1e-6)


def test_a_config_that_names_os_system_is_refused(
    byo_project: Project, model: Any, tmp_path: Path
) -> None:
    data = keras_flavor.dump(model)["model"][1]
    config = json.loads(_config(data))
    config["config"]["layers"][1] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "touch pwned"},
        "registered_name": None,
    }
    crafted = write_keras_archive(tmp_path / "crafted.keras", data, config)
    with pytest.raises(UntrustedModel, match=r"os\.system"):
        keras_flavor.load({"model": crafted.read_bytes()})
    # stored behind forgeml's back, it is still refused when the bundle is loaded
    good = save_bundle(ModelBundle("keras", model, {}, {"task": "binary"}), byo_project.artifacts)
    manifest = read_manifest(good, byo_project.artifacts)
    manifest["parts"]["model"] = byo_project.artifacts.put_bytes(crafted.read_bytes())
    forged = byo_project.artifacts.put_bytes(json.dumps(manifest).encode())
    with pytest.raises(UntrustedModel, match=r"os\.system"):
        load_bundle(forged, byo_project.artifacts)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_lambda_layers_and_h5_files_are_refused(byo_project: Project, tmp_path: Path) -> None:
    lam = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2)])
    with pytest.raises(UntrustedModel, match="Lambda"):
        forgeml.log_model(
            lam,
            name="lam",
            signature_from=np.zeros((1, 3), dtype=np.float32),
            task="regression",
            project=byo_project,
        )
    legacy = tmp_path / "model.h5"
    legacy.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(UntrustedModel, match=r"\.h5"):
        keras_flavor.dump(legacy)


def _config(data: bytes) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("config.json")


def test_the_keras_callback_logs_fit_settings_and_epochs(byo_project: Project) -> None:
    from forgeml.training.autolog import keras_callback
    from forgeml.training.run_records import metric_history
    from forgeml.training.tracking import get_run

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32)
    with (
        forgeml.start_run(experiment="keras", project=byo_project) as run,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras' own NumPy 2 notice
        net.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=0, callbacks=[keras_callback(run)])
    recorded = get_run(run.id, project=byo_project)
    assert recorded.params["fit.epochs"] == 2
    assert recorded.params["fit.optimizer"] == "SGD"
    assert recorded.params["fit.learning_rate"] == pytest.approx(0.01)
    assert [step for step, _ in metric_history(run.id, "loss", project=byo_project)] == [0, 1]
