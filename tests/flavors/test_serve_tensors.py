"""A logged tensor model is served: /predict takes arrays, refuses wrong shapes and dtypes
with 422 naming the input, and logs summary statistics that monitoring profiles."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import torch

import forgeml
from forgeml.flavors.nets import SmallCNN
from forgeml.monitor.references import reference_for
from forgeml.project import Project
from forgeml.registry import promote
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.logreader import read_predictions
from forgeml.serve.predlog import PredictionLog
from serve.asgi import InProcessClient

CLASSES = ["zero", "one", "two"]


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).random((16, 1, 8, 8), dtype=np.float32)


@pytest.fixture(scope="module")
def served(
    byo_project: Project, images: np.ndarray
) -> Iterator[tuple[ModelServer, InProcessClient]]:
    torch.manual_seed(0)
    version = forgeml.log_model(
        SmallCNN(classes=3, width=4),
        name="digits",
        signature_from=images,
        task="multiclass",
        classes=CLASSES,
        project=byo_project,
    )
    promote(version.ref, reason="first", project=byo_project)
    deployment = Deployment(byo_project, "digits")
    deployment.refresh()
    assert deployment.serving is not None
    log = PredictionLog(byo_project, "digits", deployment.serving.champion.schema.inputs)
    app = ModelServer(deployment, options=ServeOptions(freeze_gc=False), prediction_log=log)
    client = InProcessClient(app)
    yield app, client
    client.close()
    if app.log is not None:
        app.log.close()


def test_tensors_are_scored_like_the_loaded_model(
    served: tuple[ModelServer, InProcessClient], byo_project: Project, images: np.ndarray
) -> None:
    _, client = served
    expected = forgeml.load_model("digits@champion", project=byo_project).predict(images[:4])
    status, body, _ = client.post("/predict", {"input": images[:4].tolist()})
    assert status == 200, body
    assert body["predictions"] == expected.tolist()
    status, one, _ = client.post("/predict", {"inputs": {"input": images[0].tolist()}})
    assert status == 200 and one["predictions"] == [expected[0]]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"input": np.zeros((2, 8, 8)).tolist()}, "expected shape [-1, 1, 8, 8]"),
        ({"input": np.zeros((1, 1, 8, 7)).tolist()}, "got [1, 1, 8, 7]"),
        ({"input": [[[["a"] * 8] * 8]]}, "nested list of numbers"),
        ({"image": []}, "is missing"),
    ],
)
def test_wrong_shapes_and_dtypes_are_refused_naming_the_input(
    served: tuple[ModelServer, InProcessClient], payload: dict[str, object], problem: str
) -> None:
    _, client = served
    status, body, _ = client.post("/predict", payload)
    assert status == 422
    assert body["problems"][0]["field"] == "input"
    assert problem in body["problems"][0]["problem"]
    assert "[-1, 1, 8, 8]" in body["fix"]


def test_summary_statistics_are_logged_against_a_stored_reference(
    served: tuple[ModelServer, InProcessClient], byo_project: Project, images: np.ndarray
) -> None:
    app, client = served
    status, body, _ = client.post("/predict", {"input": images[4:6].tolist()})
    assert status == 200
    assert app.log is not None
    app.log.flush()
    logged = read_predictions(
        byo_project, "digits", columns=["request_id", "input.mean", "input.norm"]
    )
    rows = [
        r for r in logged.to_pylist() if r["request_id"].startswith(body["ids"][0].split(":")[0])
    ]
    flat = images[4:6].reshape(2, -1).astype(np.float64)
    np.testing.assert_allclose([r["input.mean"] for r in rows], flat.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        [r["input.norm"] for r in rows], np.linalg.norm(flat, axis=1), rtol=1e-6
    )
    reference = reference_for(
        forgeml.model_version("digits@1", project=byo_project), project=byo_project
    )
    assert [c.name for c in reference.columns] == ["input.mean", "input.std", "input.norm"]
    assert reference.prediction is not None


def test_the_open_inference_protocol_takes_the_tensor(
    served: tuple[ModelServer, InProcessClient], byo_project: Project, images: np.ndarray
) -> None:
    _, client = served
    status, meta, _ = client.get("/v2/models/digits")
    assert status == 200
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 8, 8]}]
    model = forgeml.load_model("digits@champion", project=byo_project)
    tensor = {"name": "input", "shape": [3, 1, 8, 8], "datatype": "FP32"}
    status, body, _ = client.post(
        "/v2/models/digits/infer",
        {"id": "r1", "inputs": [{**tensor, "data": images[:3].ravel().tolist()}]},
    )
    assert status == 200, body
    outputs = {o["name"]: o for o in body["outputs"]}
    assert body["id"] == "r1"
    assert outputs["predict"]["data"] == model.predict(images[:3]).tolist()
    assert outputs["predict_proba"]["shape"] == [3, 3]
    np.testing.assert_allclose(
        np.reshape(outputs["predict_proba"]["data"], (3, 3)),
        model.predict_proba(images[:3]),
        rtol=1e-5,
    )
    nested = {**tensor, "data": images[:3].tolist()}  # nested data reads the same
    status, again, _ = client.post("/v2/models/digits/infer", {"inputs": [nested]})
    assert status == 200 and again["outputs"][0]["data"] == outputs["predict"]["data"]


@pytest.mark.parametrize(
    ("tensor", "problem"),
    [
        ({"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32"}, "model's input is 'input'"),
        ({"name": "input", "shape": [1, 1, 8, 8], "datatype": "BYTES"}, "not a number type"),
        ({"name": "input", "shape": [1, 1, 4, 16], "datatype": "FP32"}, "expected shape"),
    ],
)
def test_a_wrong_tensor_on_the_open_inference_protocol_is_refused(
    served: tuple[ModelServer, InProcessClient], tensor: dict[str, object], problem: str
) -> None:
    _, client = served
    data = ["a"] * 64 if tensor["datatype"] == "BYTES" else [0.5] * 64
    status, body, _ = client.post("/v2/models/digits/infer", {"inputs": [{**tensor, "data": data}]})
    assert status == 400
    assert problem in json.dumps(body)


def test_mlflow_invocations_take_the_tensor_as_inputs_or_instances(
    served: tuple[ModelServer, InProcessClient], byo_project: Project, images: np.ndarray
) -> None:
    _, client = served
    expected = forgeml.load_model("digits@champion", project=byo_project).predict(images[:2])
    for body in ({"instances": images[:2].tolist()}, {"inputs": {"input": images[:2].tolist()}}):
        status, answer, _ = client.post("/invocations", body)
        assert status == 200, answer
        assert answer["predictions"] == expected.tolist()
    status, answer, _ = client.post("/invocations", {"dataframe_records": [{"a": 1}]})
    assert status == 400 and '{"inputs"' in answer["message"]
