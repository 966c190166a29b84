"""Models users bring (ONNX, PyTorch, Keras) exported by forgeml's deploy targets: model
directories served like the registry's versions, MLflow's onnx flavor, clear refusals."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import forgeml
from deploy.mlflow_env import run_in_mlflow
from deploy.neural_nets import Branchy
from forgeml.deploy.cloud import export_cloud
from forgeml.deploy.docker import build_context
from forgeml.deploy.mlflow_export import export_mlflow
from forgeml.deploy.mlflow_import import import_mlflow
from forgeml.deploy.modeldir import load_model_dir, write_model_dir
from forgeml.errors import ConfigError, ForgemlError, IntegrityError, NotFound
from forgeml.flavors import keras_flavor, torch_flavor
from forgeml.flavors.nets import MLP, SmallCNN
from forgeml.onnx_export import PARITY, export_onnx
from forgeml.project import Project
from forgeml.registry import load_model
from forgeml.serve.server import ServeSettings, build_app
from forgeml.training.predict import Predictor
from forgeml.training.report import model_card
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
    forgeml.log_model(  # a module whose class comes from no installed package
        Branchy(inputs=3), name="branchy", signature_from=rows, task="regression", project=found
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


def _mlmodel(folder: Path) -> dict[str, Any]:
    document = yaml.safe_load((folder / "MLmodel").read_text())
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("flavor", ["onnx", "torch"])
def test_mlflow_export_writes_the_onnx_flavor(
    project: Project, tmp_path: Path, flavor: str
) -> None:
    import onnxruntime

    out = export_mlflow(f"{flavor}@1", tmp_path / "mlflow", project=project)
    assert sorted(p.name for p in out.iterdir()) == [
        "MLmodel",
        "forgeml",
        "input_example.json",
        "model.onnx",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    document = _mlmodel(out)
    onnx_flavor = document["flavors"]["onnx"]
    assert onnx_flavor["data"] == "model.onnx"
    assert onnx_flavor["onnx_version"] == metadata.version("onnx")
    assert onnx_flavor["providers"] == ["CPUExecutionProvider"]
    pyfunc = document["flavors"]["python_function"]
    assert (pyfunc["loader_module"], pyfunc["data"]) == ("mlflow.onnx", "model.onnx")
    assert pyfunc["env"] == {"virtualenv": "python_env.yaml"}
    assert document["metadata"]["forgeml_model"] == f"{flavor}@1"
    inputs = json.loads(document["signature"]["inputs"])
    shape = forgeml.model_version(f"{flavor}@1", project=project).signature["tensors"][0]["shape"]
    assert [(i["type"], i["tensor-spec"]["shape"]) for i in inputs] == [("tensor", shape)]
    requirements = (out / "requirements.txt").read_text().split()
    assert f"onnxruntime=={metadata.version('onnxruntime')}" in requirements
    example = json.loads((out / "input_example.json").read_text())
    assert np.asarray(example["inputs"]).shape == (1, *shape[1:])
    # the written graph, run by onnxruntime itself, answers what the stored model answers
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    assert session.get_inputs()[0].name == inputs[0]["name"]
    x = _inputs(flavor)
    got = session.run(None, {inputs[0]["name"]: x})[0]
    _, bundle = load_model(f"{flavor}@1", project=project)
    expected = Predictor(bundle).scores(x) if flavor == "onnx" else None
    if flavor == "torch":  # the graph answers the network's logits
        expected = torch_flavor.predict(bundle.estimator, x)
    assert expected is not None
    assert (
        np.max(np.abs(np.asarray(got, dtype=np.float64).reshape(expected.shape) - expected))
        <= PARITY
    )


@pytest.mark.parametrize("flavor", ["onnx", "torch"])
def test_an_mlflow_export_imported_again_is_the_same_version(
    project: Project, tmp_path: Path, flavor: str
) -> None:
    out = export_mlflow(f"{flavor}@1", tmp_path / "mlflow", project=project)
    assert _mlmodel(out)["metadata"]["forgeml_model_dir"] == "forgeml"
    carried = json.loads((out / "forgeml" / "forgeml.json").read_text())
    assert sorted(carried["formats"]) == sorted(p.split(".")[0] for p in PART_FILES[flavor])
    back = import_mlflow(out, f"{flavor}-back", project=project)
    original = forgeml.model_version(f"{flavor}@1", project=project)
    assert back.ref == f"{flavor}-back@1" and back.flavor == flavor
    assert back.signature == original.signature
    assert back.artifact_sha256 == original.artifact_sha256  # the very bytes, re-registered
    assert back.lineage["imported_from"] == f"{flavor}@1"
    assert back.lineage["source"] == "mlflow"
    restored = forgeml.load_model(back.ref, project=project)
    registered = forgeml.load_model(f"{flavor}@1", project=project)
    assert (restored.task, restored.classes) == (registered.task, registered.classes)
    card = model_card(back.ref, project=project)
    assert original.signature["task"] in card
    if flavor == "torch":
        assert restored.classes == ["a", "b", "c"]
        x = _inputs(flavor)
        assert np.array_equal(restored.predict_proba(x), registered.predict_proba(x))
    x = _inputs(flavor)
    assert np.array_equal(restored.predict(x), registered.predict(x))


def test_a_table_torch_model_keeps_its_columns_and_classes_through_mlflow(
    project: Project, table_torch: tuple[str, Any], tmp_path: Path
) -> None:
    ref, frame = table_torch
    out = export_mlflow(ref, tmp_path / "mlflow", project=project)
    back = import_mlflow(out, "table-mlp-back", project=project)
    original = forgeml.model_version(ref, project=project)
    assert back.signature == original.signature
    assert [c["name"] for c in back.signature["inputs"]] == ["a", "b", "c"]
    restored = forgeml.load_model(back.ref, project=project)
    registered = forgeml.load_model(ref, project=project)
    assert (restored.task, restored.classes) == ("binary", [0, 1])
    assert np.array_equal(restored.predict_proba(frame), registered.predict_proba(frame))


@pytest.mark.parametrize("flavor", ["onnx", "torch"])
def test_a_tampered_carried_directory_is_not_imported(
    project: Project, tmp_path: Path, flavor: str
) -> None:
    out = export_mlflow(f"{flavor}@1", tmp_path / "mlflow", project=project)
    part = out / "forgeml" / PART_FILES[flavor][-1]
    data = bytearray(part.read_bytes())
    data[-1] ^= 1
    part.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"{part.name} does not match its sha256") as e:
        import_mlflow(out, f"{flavor}-tampered", project=project)
    assert "export the model again" in e.value.fix
    with pytest.raises(NotFound):  # nothing was registered
        forgeml.model_version(f"{flavor}-tampered", project=project)


def test_a_carried_directory_outside_the_folder_is_refused(
    project: Project, tmp_path: Path
) -> None:
    out = export_mlflow("onnx@1", tmp_path / "mlflow", project=project)
    elsewhere = tmp_path / "elsewhere"
    (out / "forgeml").rename(elsewhere)
    document = _mlmodel(out)
    for pointer in ("../elsewhere", str(elsewhere)):
        document["metadata"]["forgeml_model_dir"] = pointer
        (out / "MLmodel").write_text(yaml.safe_dump(document))
        with pytest.raises(ConfigError, match="outside the model folder"):
            import_mlflow(out, "onnx-escaped", project=project)
    (out / "forgeml").symlink_to(elsewhere, target_is_directory=True)
    document["metadata"]["forgeml_model_dir"] = "forgeml"
    (out / "MLmodel").write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match="outside the model folder"):
        import_mlflow(out, "onnx-escaped", project=project)
    (out / "forgeml").unlink()
    with pytest.raises(ConfigError, match="not a forgeml model directory") as e:
        import_mlflow(out, "onnx-escaped", project=project)
    assert "copy the whole exported folder" in e.value.fix


def test_a_module_onnx_cannot_reproduce_is_refused(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ForgemlError, match="differs from the stored model by") as e:
        export_mlflow("branchy@1", tmp_path / "mlflow", project=project)
    assert "branches on its input" in e.value.fix
    assert not (tmp_path / "mlflow").exists()
    assert not list(tmp_path.iterdir())  # no staging folder left behind


def test_mlflow_export_refuses_a_keras_model(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="keras model cannot be exported as an MLflow") as e:
        export_mlflow("keras@1", tmp_path / "mlflow", project=project)
    assert "--format dir" in e.value.fix and "tf2onnx" in e.value.fix
    assert not list(tmp_path.iterdir())


def test_the_azureml_bundle_refuses_a_tensor_model(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="torch model taking a tensor") as e:
        export_cloud("torch@1", tmp_path / "azure", "azureml", project=project)
    assert "azureml bundle's score.py reads tables" in e.value.message
    assert "--profile azureml" in e.value.fix
    assert not list(tmp_path.iterdir())
    # the container targets take tensors: their bundle is the model directory
    vertex = export_cloud("torch@1", tmp_path / "vertex", "vertex", project=project)
    assert (vertex / "model" / "model.safetensors").is_file()


def test_a_docker_context_locks_the_neural_packages(project: Project, tmp_path: Path) -> None:
    context = build_context("torch@1", tmp_path / "ctx", project=project)
    lock = (context.path / "requirements.lock").read_text().split()
    for package in ("torch", "safetensors"):
        assert any(line.startswith(f"{package}==") for line in lock), package
    dockerfile = (context.path / "Dockerfile").read_text()
    torch_line = next(line for line in lock if line.startswith("torch=="))
    assert ("--extra-index-url https://download.pytorch.org/whl/cpu" in dockerfile) == (
        "+cpu" in torch_line
    )
    onnx = build_context("onnx@1", tmp_path / "onnx", project=project)
    onnx_lock = (onnx.path / "requirements.lock").read_text().split()
    assert any(line.startswith("onnxruntime==") for line in onnx_lock)
    assert not any(line.startswith("torch==") for line in onnx_lock)


def test_a_docker_context_refuses_a_class_from_no_package(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"class deploy\.neural_nets:Branchy comes from no") as e:
        build_context("branchy@1", tmp_path / "ctx", project=project)
    assert "--format onnx" in e.value.fix
    assert not list(tmp_path.iterdir())


def test_a_keras_model_holding_code_is_not_exported_as_a_directory(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keras

    from forgeml.registry import code_trust

    monkeypatch.setattr(code_trust, "_granted", set())  # no grant leaks into other tests
    inputs = keras.Input((3,))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    lam = keras.Model(inputs, keras.layers.Dense(1)(doubled))
    version = forgeml.log_model(
        lam,
        name="lam",
        signature_from=np.zeros((2, 3), dtype=np.float32),
        task="regression",
        trust_code=True,
        trust_reason="our own scaling layer, reviewed",
        project=project,
    )
    with pytest.raises(ConfigError, match=r"keras model holding code \(Lambda layer") as e:
        write_model_dir(version.ref, tmp_path / "lam", project=project)
    assert "--trust-code" in e.value.fix
    assert not list(tmp_path.iterdir())


LOAD_ONNX = """
import json, sys
import numpy as np
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
x = np.asarray(json.loads(sys.argv[2]), dtype=np.float32)
out = model.predict(x)
print(json.dumps({"values": np.asarray(next(iter(out.values()))).tolist(),
                  "flavors": sorted(model.metadata.flavors)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["onnx", "torch"])
def test_real_mlflow_loads_the_onnx_export(project: Project, tmp_path: Path, flavor: str) -> None:
    out = export_mlflow(f"{flavor}@1", tmp_path / "model", project=project)
    x = _inputs(flavor)
    found = run_in_mlflow(LOAD_ONNX, str(out), json.dumps(x.tolist()))
    _, bundle = load_model(f"{flavor}@1", project=project)
    if flavor == "torch":
        expected = torch_flavor.predict(bundle.estimator, x)
    else:
        expected = Predictor(bundle).scores(x)
    got = np.asarray(found["values"], dtype=np.float64).reshape(expected.shape)
    assert np.max(np.abs(got - expected)) <= PARITY
    assert found["flavors"] == ["onnx", "python_function"]


LOAD_FRAME = """
import json, sys
import pandas as pd
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict(pd.DataFrame(json.loads(sys.argv[2])))
print(json.dumps({"values": out.iloc[:, 0].tolist(), "columns": list(out.columns)}))
"""


@pytest.fixture(scope="module")
def table_torch(project: Project) -> tuple[str, Any]:
    """A PyTorch MLP logged from a table: MLflow sees its columns."""
    import pandas as pd

    frame = pd.DataFrame(np.random.default_rng(4).normal(size=(12, 3)), columns=["a", "b", "c"])
    torch.manual_seed(1)
    version = forgeml.log_model(
        MLP(inputs=3, outputs=1, hidden=[4]),
        name="table-mlp",
        signature_from=frame,
        task="binary",
        classes=[0, 1],
        project=project,
    )
    return version.ref, frame


def _logits(project: Project, ref: str, x: np.ndarray) -> np.ndarray:
    _, bundle = load_model(ref, project=project)
    return torch_flavor.predict(bundle.estimator, x)


def test_a_table_model_lists_its_columns_in_mlflow(
    project: Project, table_torch: tuple[str, Any], tmp_path: Path
) -> None:
    import onnxruntime

    ref, frame = table_torch
    out = export_mlflow(ref, tmp_path / "mlflow", project=project)
    document = _mlmodel(out)
    inputs = json.loads(document["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [(n, "double") for n in "abc"]
    example = json.loads((out / "input_example.json").read_text())
    assert example["columns"] == ["a", "b", "c"]
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    x = frame.to_numpy(dtype=np.float32)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.max(np.abs(got - _logits(project, ref, x))) <= PARITY


@pytest.mark.slow
def test_real_mlflow_scores_a_frame_through_the_onnx_export(
    project: Project, table_torch: tuple[str, Any], tmp_path: Path
) -> None:
    ref, frame = table_torch
    out = export_mlflow(ref, tmp_path / "model", project=project)
    found = run_in_mlflow(LOAD_FRAME, str(out), frame.to_json(orient="records"))
    expected = _logits(project, ref, frame.to_numpy(dtype=np.float32))[:, 0]
    assert found["columns"] == ["output"]
    got = np.asarray(found["values"], dtype=np.float64)
    assert np.max(np.abs(got - expected)) <= PARITY
