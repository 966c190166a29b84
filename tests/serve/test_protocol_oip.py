"""The Open Inference Protocol (KServe V2 REST) on the server's fast path: health, metadata,
inference with one input per column or one tensor, outputs, errors, logging and canary."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer
from forgeml.serve.predlog import read_predictions
from forgeml.serve.rollout import end_rollout, start_rollout
from serve.protocol_cases import credit_rows, numeric_table, pd_request, served_project
from serve.serving import Client, register
from support import scaled

Served = tuple[Project, ModelServer, Client]


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_project(tmp_path_factory) as served:
        yield served


@pytest.fixture(scope="module")
def numeric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_project(tmp_path_factory, "numeric") as served:
        yield served


def _size(shape: list[int]) -> int:
    return math.prod(shape)


def test_health_and_server_metadata(credit: Served) -> None:
    _, _, client = credit
    assert client.get("/v2/health/live")[:2] == (200, {"live": True})
    assert client.get("/v2/health/ready")[:2] == (200, {"ready": True})
    status, body, _ = client.get("/v2")
    assert status == 200
    assert body["name"] == "forgeml" and isinstance(body["version"], str)
    assert body["extensions"] == []


def test_model_metadata_lists_the_inputs_in_column_order(credit: Served) -> None:
    _, app, client = credit
    status, body, _ = client.get("/v2/models/credit")
    assert status == 200
    assert body["name"] == "credit" and body["versions"] == ["1"]
    assert body["platform"] == "forgeml-lightgbm"
    names = app.deployment.serving.champion.schema.names  # type: ignore[union-attr]
    assert [i["name"] for i in body["inputs"]] == names
    kinds = {i["name"]: i["datatype"] for i in body["inputs"]}
    assert kinds["income"] == "FP64" and kinds["age"] == "INT64"
    assert kinds["plan"] == "BYTES" and kinds["paperless"] == "BOOL"
    assert all(i["shape"] == [-1] for i in body["inputs"])
    assert [o["name"] for o in body["outputs"]] == ["predict", "predict_proba"]
    assert client.get("/v2/models/credit/versions/1")[1]["versions"] == ["1"]
    assert client.get("/v2/models/credit/ready")[:2] == (200, {"name": "credit", "ready": True})
    assert client.get("/v2/models/credit/versions/1/ready")[0] == 200


def test_one_input_per_column_scores_as_predict_does(credit: Served) -> None:
    _, _, client = credit
    rows = credit_rows(3)
    status, native, _ = client.post("/predict", rows)
    assert status == 200
    status, body, headers = client.post("/v2/models/credit/infer", pd_request(rows, id="42"))
    assert status == 200, body
    assert body["id"] == "42"
    assert body["model_name"] == "credit" and body["model_version"] == "1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert set(outputs) == {"predict", "predict_proba"}
    for output in outputs.values():
        assert len(output["data"]) == _size(output["shape"])
    assert outputs["predict"]["data"] == native["predictions"]
    assert outputs["predict"]["datatype"] == "BOOL"
    proba = outputs["predict_proba"]
    assert proba["shape"] == [3, 2] and proba["datatype"] == "FP64"
    positive = proba["data"][1::2]
    assert positive == pytest.approx(native["scores"], abs=1e-12)
    assert proba["data"][0::2] == pytest.approx([1 - p for p in native["scores"]], abs=1e-12)
    assert headers["x-request-id"]


def test_columns_named_without_the_pd_parameter_and_with_shape_rows_by_one(
    credit: Served,
) -> None:
    _, _, client = credit
    request = pd_request(credit_rows(2))
    del request["parameters"]
    for tensor in request["inputs"]:
        tensor["shape"] = [2, 1]
    status, body, _ = client.post("/v2/models/credit/infer", request)
    assert status == 200, body
    assert body["outputs"][0]["shape"] == [2]


def test_the_outputs_a_request_names_are_the_ones_returned(credit: Served) -> None:
    _, _, client = credit
    request = pd_request(credit_rows(1), outputs=[{"name": "predict_proba"}])
    status, body, _ = client.post("/v2/models/credit/infer", request)
    assert status == 200
    assert [o["name"] for o in body["outputs"]] == ["predict_proba"]
    request["outputs"] = [{"name": "output0"}]
    status, body, _ = client.post("/v2/models/credit/infer", request)
    assert status == 400 and "output0" in body["error"] and "predict" in body["fix"]


def test_a_tensor_in_column_order_flat_or_nested(numeric: Served) -> None:
    _, _, client = numeric
    table = numeric_table(rows=4, seed=9)
    rows = [[table.column("income")[i].as_py(), table.column("age")[i].as_py()] for i in range(4)]
    native = client.post("/predict", [{"income": a, "age": b} for a, b in rows])[1]
    flat = [v for row in rows for v in row]
    for data in (flat, rows):
        request = {
            "id": "7",
            "inputs": [{"name": "input-0", "shape": [4, 2], "datatype": "FP64", "data": data}],
        }
        status, body, _ = client.post("/v2/models/numeric/infer", request)
        assert status == 200, body
        assert body["id"] == "7"
        assert body["outputs"][0]["data"] == native["predictions"]


@pytest.mark.parametrize(
    ("inputs", "said"),
    [
        ([{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}], "holds 4"),
        ([{"name": "x", "shape": [1, 2], "datatype": "FP128", "data": [1.0, 2.0]}], "datatype"),
        ([{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1.5, 2]}], "integers"),
        ([{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": "AAAA"}], "binary"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}], "[rows, 2]"),
        ([{"shape": [1], "datatype": "FP64", "data": [1]}], "name"),
        ([{"name": "income", "shape": "1", "datatype": "FP64", "data": [1]}], "shape"),
        ([], "non-empty"),
    ],
)
def test_protocol_errors_are_400_with_an_error_string(
    numeric: Served, inputs: list[Any], said: str
) -> None:
    _, _, client = numeric
    status, body, _ = client.post("/v2/models/numeric/infer", {"inputs": inputs})
    assert status == 400
    assert isinstance(body["error"], str) and said in body["error"] + body["fix"]


def test_signature_errors_name_the_field(credit: Served) -> None:
    _, _, client = credit
    request = pd_request(credit_rows(1))
    request["inputs"][0]["data"] = [None] if request["inputs"][0]["name"] == "income" else [1]
    request["inputs"] = [t for t in request["inputs"] if t["name"] != "age"]
    status, body, _ = client.post("/v2/models/credit/infer", request)
    assert status == 400 and body["error"].startswith("invalid input: ")
    assert "age: is missing" in body["error"]  # the error itself says what is wrong
    assert {"field": "age", "problem": "is missing", "expected": "a number"} in body["problems"]
    status, body, _ = client.post("/v2/models/credit/infer", raw=b"{nope")
    assert status == 400 and body["error"] == "malformed JSON"


def test_unknown_models_versions_and_routes(credit: Served) -> None:
    _, _, client = credit
    status, body, _ = client.post("/v2/models/other/infer", pd_request(credit_rows(1)))
    assert status == 404 and "other" in body["error"] and "credit" in body["fix"]
    status, body, _ = client.get("/v2/models/credit/versions/9")
    assert status == 404 and "'9'" in body["error"]
    assert client.get("/v2/models/credit/explain")[0] == 404
    status, _, headers = client.get("/v2/models/credit/infer")
    assert status == 405 and headers["allow"] == "POST"


def test_predictions_are_logged_and_counted(credit: Served) -> None:
    project, _app, client = credit
    before = len(read_predictions(project, "credit"))
    status, _body, _ = client.post("/v2/models/credit/infer", pd_request(credit_rows(2)))
    assert status == 200
    deadline = time.monotonic() + scaled(30)
    while len(read_predictions(project, "credit")) < before + 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    text = client.get("/metrics")[1]
    assert 'path="/v2/models/{name}/infer"' in text


def test_a_canary_answers_its_share_and_a_named_version_pins_it(credit: Served) -> None:
    project, app, client = credit
    register(project, seed=1, champion=False)
    start_rollout("credit@2", mode="canary", share=0.5, reason="try", project=project)
    try:
        deadline = time.monotonic() + scaled(30)
        while app.deployment.serving.challenger is None:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        request = pd_request(credit_rows(1))
        by_key = {}
        for i in range(40):
            key = {"x-routing-key": f"customer-{i}"}
            answers = {
                client.post("/v2/models/credit/infer", request, headers=key)[1]["model_version"]
                for _ in range(2)
            }
            assert len(answers) == 1  # sticky
            by_key[i] = answers.pop()
        assert set(by_key.values()) == {"1", "2"}
        pinned = client.post("/v2/models/credit/versions/1/infer", request)[1]
        assert pinned["model_version"] == "1"
        assert client.get("/v2/models/credit")[1]["versions"] == ["1", "2"]
    finally:
        end_rollout("credit", reason="done", project=project)
    deadline = time.monotonic() + scaled(30)
    while app.deployment.serving.rollout is not None:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, _body, _ = client.post("/v2/models/credit/versions/2/infer", pd_request(credit_rows(1)))
    assert status == 404
    deadline = time.monotonic() + scaled(30)
    while not len(log := read_predictions(project, "credit", arm="canary")):  # written in 0.2 s
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert set(log.column("version").to_pylist()) == {2}
