"""Import of an MLflow model saved with the ``onnx`` flavor: registered as a forgeml ONNX model
(no pickle anywhere), answering exactly what onnxruntime answers on the file itself.

The model folders are written the way ``mlflow.onnx.save_model`` writes them: ``MLmodel``
(flavors ``onnx`` and ``python_function``, the signature as JSON strings), ``model.onnx``
and, for larger tensors, the files ``onnx.save_model(save_as_external_data=True)`` puts
beside it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import yaml
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor

import forgeml
from forgeml.deploy.mlflow_import import import_mlflow
from forgeml.errors import ConfigError, InputRejected, NotFound
from forgeml.project import Project
from forgeml.registry import model_version
from forgeml.registry.bundle import read_manifest
from support import run_cli

RNG = np.random.default_rng(3)
X = RNG.normal(size=(120, 4)).astype(np.float32)
PROBE = RNG.normal(size=(15, 4)).astype(np.float32)


def _spec(dtype: str, shape: list[int], name: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}
    if name:
        spec["name"] = name
    return spec


def save_mlflow_onnx(
    model: onnx.ModelProto, folder: Path, inputs: list[dict[str, object]], outputs: list
) -> Path:
    """An MLflow ``onnx`` model folder, as ``mlflow.onnx.save_model`` lays it out."""
    folder.mkdir()
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True)
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "onnx": {
                "code": None,
                "data": "model.onnx",
                "onnx_version": onnx.__version__,
                "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
            },
            "python_function": {
                "data": "model.onnx",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.onnx",
                "python_version": "3.11.9",
            },
        },
        "mlflow_version": "2.19.0",
        "model_uuid": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "signature": {
            "inputs": json.dumps(inputs),
            "outputs": json.dumps(outputs),
            "params": None,
        },
        "utc_time_created": "2026-12-01 10:00:00.000000",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    found = Project.init(tmp_path_factory.mktemp("onnx-import"), name="onnx-import")
    yield found
    found.close()


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])  # three classes
    fitted = LogisticRegression(max_iter=500).fit(X, y)
    graph = to_onnx(fitted, X[:1], options={id(fitted): {"zipmap": False}})
    return save_mlflow_onnx(
        graph,
        tmp_path_factory.mktemp("mlflow") / "iris",
        [_spec("float32", [-1, 4])],
        [_spec("float32", [-1, 3])],
    )


@pytest.fixture(scope="module")
def regressor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * X[:, 0] ** 2
    fitted = MLPRegressor(hidden_layer_sizes=(100,), max_iter=300, random_state=0).fit(X, y)
    graph = _raw_tensors(to_onnx(fitted, X[:1]))  # so its weights go to a file beside it
    columns = [{"type": "float", "name": n, "required": True} for n in "abcd"]
    return save_mlflow_onnx(
        graph,
        tmp_path_factory.mktemp("mlflow") / "spend",
        columns,
        [_spec("float32", [-1, 1])],
    )


def _raw_tensors(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph with its weights as raw bytes, as PyTorch's exporter writes them."""
    for i, tensor in enumerate(model.graph.initializer):
        array = onnx.numpy_helper.to_array(tensor)
        model.graph.initializer[i].CopyFrom(onnx.numpy_helper.from_array(array, tensor.name))
    return model


def _onnxruntime(folder: Path, x: np.ndarray) -> list[np.ndarray]:
    session = onnxruntime.InferenceSession(
        str(folder / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: x})


def test_a_classifier_is_registered_as_onnx_through_the_cli(
    project: Project,
    classifier_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FORGEML_PROJECT", str(project.root))
    done = run_cli(monkeypatch, capsys, "import", "mlflow", str(classifier_dir), "--name", "iris")
    assert done.code == 0, done.out + done.err
    assert "iris@1 registered" in done.out
    version = model_version("iris@1", project=project)
    assert version.flavor == "onnx"
    assert version.signature["task"] == "multiclass"
    assert version.signature["classes"] == [0, 1, 2]
    assert "trusted_pickle" not in version.lineage
    manifest = read_manifest(version.artifact_sha256, project.artifacts)
    stored = project.artifacts.get_bytes(manifest["parts"]["model"])
    assert onnx.load_from_string(stored).graph.node  # the graph itself, no pickle
    _labels, probabilities = _onnxruntime(classifier_dir, PROBE)
    got = forgeml.load_model("iris@1", project=project).predict_proba(PROBE)
    assert np.array_equal(got, probabilities.astype(np.float64))


def test_a_column_signature_and_tensors_beside_the_graph(
    project: Project, regressor_dir: Path
) -> None:
    assert len(list(regressor_dir.iterdir())) == 3  # MLmodel, model.onnx, its tensors
    with pytest.raises(ConfigError, match="pass --task") as unknown:
        import_mlflow(regressor_dir, "spend", project=project)
    assert "cannot be read from its graph" in unknown.value.message
    with pytest.raises(NotFound):
        model_version("spend", project=project)  # nothing registered
    version = import_mlflow(regressor_dir, "spend", task="regression", project=project)
    assert version.flavor == "onnx"
    assert [c["name"] for c in version.signature["inputs"]] == ["a", "b", "c", "d"]
    (expected,) = _onnxruntime(regressor_dir, PROBE)
    rows = {name: PROBE[:, i].tolist() for i, name in enumerate("abcd")}
    got = forgeml.load_model(version.ref, project=project).predict(rows)
    assert np.array_equal(np.asarray(got, dtype=np.float64), expected[:, 0].astype(np.float64))


def test_a_tensor_file_outside_the_folder_is_refused(project: Project, tmp_path: Path) -> None:
    weights = onnx.numpy_helper.from_array(np.ones((4, 300), dtype=np.float32), "w")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("MatMul", ["x", "w"], ["y"])],
        "matmul",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 300])],
        [weights],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    folder = save_mlflow_onnx(model, tmp_path / "escape", [_spec("float32", [-1, 4])], [])
    saved = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    for entry in saved.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../../outside.bin"
    (folder / "model.onnx").write_bytes(saved.SerializeToString())
    with pytest.raises(ConfigError, match="cannot be read as an ONNX model"):
        import_mlflow(folder, "escape", task="regression", project=project)
    with pytest.raises(NotFound):
        model_version("escape", project=project)


def test_a_graph_with_one_input_per_column_is_fed_by_name(project: Project, tmp_path: Path) -> None:
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    scale = ColumnTransformer([("scale", StandardScaler(), ["a", "b", "c"])])
    fitted = make_pipeline(scale, LinearRegression()).fit(frame, X[:, 0] - 3 * X[:, 2])
    graph = to_onnx(fitted, frame[:1])  # one [None, 1] input per column
    assert [i.name for i in graph.graph.input] == ["a", "b", "c"]
    columns = [{"type": "float", "name": n, "required": True} for n in ("c", "a", "b")]
    folder = save_mlflow_onnx(graph, tmp_path / "by-name", columns, [])
    version = import_mlflow(folder, "by_name", task="regression", project=project)
    assert [c["name"] for c in version.signature["inputs"]] == ["a", "b", "c"]
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    (expected,) = session.run(None, {n: PROBE[:, [i]] for i, n in enumerate("abc")})
    rows = {n: PROBE[:, i].tolist() for i, n in enumerate("abc")}
    got = forgeml.load_model(version.ref, project=project).predict(rows)
    assert np.array_equal(np.asarray(got, dtype=np.float64), expected[:, 0].astype(np.float64))


def _mixed_pipeline(rows: int = 80) -> tuple[onnx.ModelProto, Any]:
    """skl2onnx's graph of a pipeline over a double, an int64 and a string column."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50.0, 10.0, rows),
            "visits": rng.integers(0, 9, rows),
            "plan": rng.choice(["basic", "pro", "gold"], rows),
        }
    )
    label = frame["income"] / 10 + frame["visits"] / 4 + (frame["plan"] == "pro") > 6.5
    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["income", "visits"]),
            ("plans", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
        ]
    )
    fitted = make_pipeline(columns, LogisticRegression()).fit(frame, label.astype(int))
    return to_onnx(fitted, frame[:1], options={id(fitted): {"zipmap": False}}), frame


MIXED_ROWS = [
    {"income": 61.5, "visits": 3, "plan": "pro"},
    {"income": 42.0, "visits": 8, "plan": "basic"},
    {"income": 55.25, "visits": 0, "plan": "gold"},
    {"income": 48.0, "visits": 5, "plan": "platinum"},  # a plan the encoder never saw
]


def _mixed_feed(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        "income": np.array([[r["income"]] for r in rows], dtype=np.float64),
        "visits": np.array([[r["visits"]] for r in rows], dtype=np.int64),
        "plan": np.array([[r["plan"]] for r in rows], dtype=object),
    }


def test_a_graph_whose_inputs_have_different_types_is_served(
    project: Project,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from forgeml.registry import promote
    from serve.serving import live_server

    graph, _ = _mixed_pipeline()
    kinds = {i.name: i.type.tensor_type.elem_type for i in graph.graph.input}
    assert kinds == {"income": 11, "visits": 7, "plan": 8}  # double, int64, string
    inputs = [
        _spec("float64", [-1, 1], "income"),
        _spec("int64", [-1, 1], "visits"),
        _spec("str", [-1, 1], "plan"),
    ]
    folder = save_mlflow_onnx(graph, tmp_path / "mixed", inputs, [])
    monkeypatch.setenv("FORGEML_PROJECT", str(project.root))
    done = run_cli(
        monkeypatch, capsys, "import", "mlflow", str(folder), "--name", "mixed", "--task", "binary"
    )
    assert done.code == 0, done.out + done.err
    version = model_version("mixed@1", project=project)
    assert version.signature["task"] == "binary"
    recorded = {c["name"]: (c["kind"], c["dtype"]) for c in version.signature["inputs"]}
    assert recorded == {
        "income": ("float", "float64"),
        "visits": ("integer", "int64"),
        "plan": ("category", "str"),
    }
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    _labels, expected = session.run(None, _mixed_feed(MIXED_ROWS))
    import pandas as pd

    got = forgeml.load_model("mixed@1", project=project).predict_proba(pd.DataFrame(MIXED_ROWS))
    assert np.allclose(np.asarray(got)[:, -1], expected[:, 1], rtol=0, atol=1e-6)

    promote("mixed@1", reason="test", project=project)
    with live_server(project, "mixed") as (_app, client):
        status, body, _ = client.post("/predict", MIXED_ROWS)
        assert status == 200, body
        assert np.allclose(body["scores"], expected[:, 1], rtol=0, atol=1e-6)
        assert body["predictions"] == (expected[:, 1] >= 0.5).astype(int).tolist()
        status, body, _ = client.post("/predict", MIXED_ROWS[0])  # one row
        assert status == 200, body
        assert abs(body["scores"][0] - expected[0, 1]) <= 1e-6
        inputs = [
            {"name": "income", "shape": [4], "datatype": "FP64"},
            {"name": "visits", "shape": [4, 1], "datatype": "INT64"},
            {"name": "plan", "shape": [4], "datatype": "BYTES"},
        ]
        for tensor in inputs:
            tensor["data"] = [r[str(tensor["name"])] for r in MIXED_ROWS]
        status, body, _ = client.post("/v2/models/mixed/infer", {"inputs": inputs})
        assert status == 200, body
        (proba,) = [o for o in body["outputs"] if o["name"] == "predict_proba"]
        assert np.allclose(proba["data"][1::2], expected[:, 1], rtol=0, atol=1e-6)
        status, body, _ = client.get("/v2/models/mixed")
        kinds = [(i["name"], i["datatype"]) for i in body["inputs"]]
        assert kinds == [("income", "FP64"), ("visits", "INT64"), ("plan", "BYTES")]
        status, body, _ = client.post("/predict", {"income": 50.0, "visits": 2.5, "plan": "pro"})
        assert status == 422, body
        text = json.dumps(body)
        assert "visits" in text and "int64" in text and "whole number" in text


def test_log_model_records_each_input_type_of_a_mixed_graph(project: Project) -> None:
    graph, frame = _mixed_pipeline()
    version = forgeml.log_model(
        graph, name="mixed_logged", signature_from=frame, task="binary", project=project
    )
    recorded = [(c["name"], c["dtype"]) for c in version.signature["inputs"]]
    assert recorded == [("income", "float64"), ("visits", "int64"), ("plan", "str")]
    session = onnxruntime.InferenceSession(graph.SerializeToString())
    _labels, expected = session.run(None, _mixed_feed(MIXED_ROWS))
    import pandas as pd

    model = forgeml.load_model(version.ref, project=project)
    got = model.predict_proba(pd.DataFrame(MIXED_ROWS))[:, 1]
    assert np.allclose(got, expected[:, 1], rtol=0, atol=1e-6)
    wrong = pd.DataFrame([{**MIXED_ROWS[0], "visits": 1.5}])
    with pytest.raises(InputRejected, match="visits: expected a whole number") as refused:
        model.predict(wrong)
    assert "int64" in refused.value.fix


def test_a_single_input_graph_is_not_fed_string_columns(project: Project) -> None:
    frame = {"a": ["x", "y"], "b": [1.0, 2.0]}
    import pandas as pd

    with pytest.raises(ConfigError, match="cannot be fed the string columns a"):
        forgeml.log_model(
            to_onnx(LogisticRegression().fit(X[:, :2], X[:, 0] > 0), X[:1, :2]),
            name="one_input",
            signature_from=pd.DataFrame(frame),
            task="binary",
            project=project,
        )


def test_a_file_is_scored_in_batch_by_a_mixed_graph(project: Project, tmp_path: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    from forgeml.serve.batch import predict_file

    graph, frame = _mixed_pipeline()
    version = forgeml.log_model(
        graph, name="mixed_batch", signature_from=frame, task="binary", project=project
    )
    source = tmp_path / "rows.parquet"
    pd.DataFrame(MIXED_ROWS).to_parquet(source)
    predict_file(version.ref, source, tmp_path / "out.parquet", project=project)
    scored = pq.read_table(tmp_path / "out.parquet").to_pandas()
    session = onnxruntime.InferenceSession(graph.SerializeToString())
    _labels, expected = session.run(None, _mixed_feed(MIXED_ROWS))
    assert np.allclose(scored["score"], expected[:, 1], rtol=0, atol=1e-6)


def test_a_column_signature_is_checked_against_the_graph_input_types(
    project: Project, tmp_path: Path
) -> None:
    graph, _ = _mixed_pipeline()
    columns = [
        {"type": "double", "name": "income", "required": True},
        {"type": "long", "name": "visits", "required": True},
        {"type": "double", "name": "plan", "required": True},  # a string input in the graph
    ]
    folder = save_mlflow_onnx(graph, tmp_path / "wrong", columns, [])
    with pytest.raises(ConfigError, match="'plan' is float in the signature") as wrong:
        import_mlflow(folder, "wrong_types", task="binary", project=project)
    assert "takes str" in wrong.value.message
    with pytest.raises(NotFound):
        model_version("wrong_types", project=project)
    columns[2]["type"] = "string"
    folder = save_mlflow_onnx(graph, tmp_path / "right", columns, [])
    version = import_mlflow(folder, "right_types", task="binary", project=project)
    assert [c["dtype"] for c in version.signature["inputs"]] == ["float64", "int64", "str"]
