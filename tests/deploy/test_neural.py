"""Models users bring (ONNX, PyTorch, Keras) exported by forgeml's deploy targets: model
directories served like the registry's versions, MLflow's onnx flavor, clear refusals."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import forgeml
from forgeml.deploy.modeldir import load_model_dir, write_model_dir
from forgeml.errors import IntegrityError
from forgeml.flavors import keras_flavor
from forgeml.flavors.nets import MLP, SmallCNN
from forgeml.onnx_export import export_onnx
from forgeml.project import Project
from forgeml.serve.server import ServeSettings, build_app
from serve.asgi import InProcessClient

FLAVORS = ("onnx", "torch", "keras")
PART_FILES = {
    "onnx": ["model.onnx"],
    "torch": ["architecture.json", "model.safetensors"],
    "keras": ["model.keras"],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project holding one version of each neural flavor (``onnx``, ``torch``, ``keras``)."""
    saved = {k: os.environ.pop(k, None) for k in ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL")}
    found = Project.init(tmp_path_factory.mktemp("neural") / "proj", name="neural")
    torch.manual_seed(0)
    images = np.random.default_rng(1).random((8, 1, 8, 8), dtype=np.float32)
    forgeml.log_model(
        SmallCNN(classes=3, width=4),
        name="torch",
        signature_from=images,
        task="multiclass",
        classes=["a", "b", "c"],
        project=found,
    )
    rows = np.random.default_rng(2).normal(size=(8, 3)).astype(np.float32)
    mlp = forgeml.log_model(
        MLP(inputs=3, outputs=1, hidden=[4]),
        name="mlp",
        signature_from=rows,
        task="regression",
        project=found,
    )
    graph = export_onnx(mlp.ref, found.root / "mlp.onnx", project=found).path.read_bytes()
    forgeml.log_model(graph, name="onnx", signature_from=rows, task="regression", project=found)
    keras_flavor.use_backend()
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    forgeml.log_model(
        net,
        name="keras",
        signature_from=rows,
        task="binary",
        classes=["no", "yes"],
        outputs="logits",
        project=found,
    )
    yield found
    found.close()
    os.environ.update({k: v for k, v in saved.items() if v is not None})


@pytest.fixture(scope="module")
def dirs(project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dirs")
    return {f: write_model_dir(f"{f}@1", out / f, project=project).path for f in FLAVORS}


def _inputs(flavor: str) -> np.ndarray:
    rng = np.random.default_rng(5)
    if flavor == "torch":
        return rng.random((4, 1, 8, 8), dtype=np.float32)
    return rng.normal(size=(4, 3)).astype(np.float32)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_model_directory_holds_the_stored_parts_with_their_formats(
    project: Project, dirs: dict[str, Path], flavor: str
) -> None:
    folder = dirs[flavor]
    manifest = json.loads((folder / "forgeml.json").read_text())
    parts = PART_FILES[flavor]
    assert sorted(n for n in manifest["files"].values() if n.startswith(("model", "arch"))) == parts
    assert set(parts) <= set(manifest["sha256"])
    expected = {"onnx": {"model": "onnx"}, "keras": {"model": "keras"}}
    expected["torch"] = {"model": "safetensors", "architecture": "json"}
    assert manifest["formats"] == expected[flavor]
    if flavor == "torch":
        assert manifest["python_class"] == "forgeml.flavors.nets:SmallCNN"
        assert (folder / "model.safetensors").read_bytes()[8:9] == b"{"  # safetensors header
    else:
        assert "python_class" not in manifest
    requirements = (folder / "requirements.txt").read_text().split()
    wanted = {"onnx": ["onnx", "onnxruntime"], "torch": ["torch", "safetensors"]}
    wanted["keras"] = ["keras", "torch"]  # on the PyTorch backend here
    for package in wanted[flavor]:
        assert any(r.startswith(f"{package}==") for r in requirements), requirements
    example = json.loads((folder / "input_example.json").read_text())
    shape = manifest["signature"]["tensors"][0]["shape"]
    assert np.asarray(example["input"]).shape == tuple(shape[1:])


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_served_model_directory_answers_like_the_registered_version(
    project: Project, dirs: dict[str, Path], flavor: str
) -> None:
    x = _inputs(flavor)
    registered = forgeml.load_model(f"{flavor}@1", project=project)
    expected = registered.predict(x)
    version, bundle = load_model_dir(dirs[flavor])
    assert (version.ref, bundle.flavor) == (f"{flavor}@1", flavor)
    app = build_app(ServeSettings(model_dir=str(dirs[flavor])))
    client = InProcessClient(app)
    try:
        status, body, _ = client.get("/ready")
        assert (status, body["model"]) == (200, flavor), body
        status, body, _ = client.post("/predict", {"input": x.tolist()})
        assert status == 200, body
        assert body["predictions"] == expected.tolist()
        status, body, _ = client.post("/predict", {"input": [[1.0]]})
        assert status == 422 and body["problems"][0]["field"] == "input"
    finally:
        app.stop()
        client.close()


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_tampered_part_is_refused_before_it_is_parsed(
    dirs: dict[str, Path], tmp_path: Path, flavor: str
) -> None:
    copy = tmp_path / flavor
    copy.mkdir()
    for file in dirs[flavor].iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    part = copy / PART_FILES[flavor][-1]
    data = bytearray(part.read_bytes())
    data[-1] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"{part.name} does not match its sha256") as e:
        load_model_dir(copy)
    assert "export the model again" in e.value.fix
    with pytest.raises(IntegrityError):
        build_app(ServeSettings(model_dir=str(copy)))
