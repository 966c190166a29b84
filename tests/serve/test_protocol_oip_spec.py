"""Open Inference Protocol (KServe V2 REST) conformance, from the specification's own examples.

The requests are the examples of the protocol's "Predict Protocol - Version 2" document
(``docs/predict-api/v2/required_api.md`` in kserve), and every reply is checked against the
response objects it defines: ``$metadata_server_response``, ``$metadata_model_response``
with its ``$metadata_tensor`` entries, ``$inference_response`` with its
``$response_output`` entries, and the ``{"error": $string}`` error objects. Datatypes must
be those of its "Tensor Data Types" table and each output's ``data`` must hold as many
values as its ``shape`` says.

The spec's inference example asks a model ``mymodel`` with inputs ``input0`` (UINT32, shape
[2, 2]) and ``input1`` (BOOL, shape [3]) for the output ``output0``. forgeml serves one
model per server, feeds a model either one input per column or one tensor, and names its
outputs ``predict`` and ``predict_proba``; the adaptations, each also noted where it is made:

- ``mymodel`` is an ONNX graph with one column per input: ``input0`` (uint32) and
  ``input1`` (bool), answering ``input0 + input1``; the example's ``input0`` is sent as the
  column [3] (``[2, 2]`` is not one column) and ``input1``'s data holds its 3 values (the
  spec's example gives shape [3] with a single value, which the error test sends verbatim);
- ``pairs`` is an ONNX graph taking the example's ``input0`` as one tensor (uint32,
  [-1, 2]), answering the sum of each row; it receives the example's ``input0`` verbatim;
- ``output0`` is asked for as ``predict``, the name of forgeml's prediction output.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import forgeml
from forgeml.project import Project
from forgeml.registry import promote
from serve.serving import Client, live_server

# the "Tensor Data Types" table
DATATYPES = {
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
}  # fmt: skip

# the spec's inference request example, as the document gives it
SPEC_REQUEST: dict[str, Any] = {
    "id": "42",
    "inputs": [
        {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
        {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True]},
    ],
    "outputs": [{"name": "output0"}],
}


def _model(nodes: list[Any], inputs: list[Any], output: Any, init: list[Any]) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "spec", inputs, [output], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def two_columns() -> onnx.ModelProto:
    """``output0 = input0 + input1``, input0 a uint32 column and input1 a bool column."""
    return _model(
        [
            helper.make_node("Cast", ["input0"], ["a"], to=TensorProto.FLOAT),
            helper.make_node("Cast", ["input1"], ["b"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["a", "b"], ["output0"]),
        ],
        [
            helper.make_tensor_value_info("input0", TensorProto.UINT32, [None, 1]),
            helper.make_tensor_value_info("input1", TensorProto.BOOL, [None, 1]),
        ],
        helper.make_tensor_value_info("output0", TensorProto.FLOAT, [None, 1]),
        [],
    )


def row_sums() -> onnx.ModelProto:
    """``output0`` = the sum of each row of input0, a uint32 tensor of shape [-1, 2]."""
    return _model(
        [
            helper.make_node("Cast", ["input0"], ["a"], to=TensorProto.FLOAT),
            helper.make_node("ReduceSum", ["a", "axes"], ["output0"], keepdims=1),
        ],
        [helper.make_tensor_value_info("input0", TensorProto.UINT32, [None, 2])],
        helper.make_tensor_value_info("output0", TensorProto.FLOAT, [None, 1]),
        [helper.make_tensor("axes", TensorProto.INT64, [1], [1])],
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        found = Project.init(tmp_path_factory.mktemp("oip-spec") / "proj", name="spec")
        columns = [
            {"name": "input0", "kind": "integer", "nullable": False},
            {"name": "input1", "kind": "boolean", "nullable": False},
        ]
        forgeml.log_model(
            two_columns(),
            name="mymodel",
            signature_from={"inputs": columns},
            task="regression",
            project=found,
        )
        tensor = {"name": "input0", "dtype": "uint32", "shape": [-1, 2]}
        forgeml.log_model(
            row_sums(),
            name="pairs",
            signature_from={"tensors": [tensor]},
            task="regression",
            project=found,
        )
        for ref in ("mymodel@1", "pairs@1"):
            promote(ref, reason="conformance", project=found)
        try:
            yield found
        finally:
            found.close()


@pytest.fixture(scope="module")
def mymodel(project: Project) -> Iterator[Client]:
    with live_server(project, "mymodel", log=False) as (_app, client):
        yield client


@pytest.fixture(scope="module")
def pairs(project: Project) -> Iterator[Client]:
    with live_server(project, "pairs", log=False) as (_app, client):
        yield client


# ---- the response objects of the spec ---------------------------------------------------


def check_parameters(parameters: Any) -> None:
    """``$parameters``: an object of ``$string : $string | $number | $boolean``."""
    assert isinstance(parameters, dict), parameters
    for key, value in parameters.items():
        assert isinstance(key, str)
        assert isinstance(value, (str, int, float, bool)), (key, value)


def check_metadata_tensor(tensor: Any) -> None:
    """``$metadata_tensor``: name, a datatype of the table, a shape with -1 for any size."""
    assert set(tensor) == {"name", "datatype", "shape"}, tensor
    assert isinstance(tensor["name"], str) and tensor["name"]
    assert tensor["datatype"] in DATATYPES, tensor
    assert isinstance(tensor["shape"], list)
    assert all(type(d) is int and (d == -1 or d >= 0) for d in tensor["shape"]), tensor


def _flat(data: list[Any]) -> list[Any]:
    return [v for item in data for v in (_flat(item) if isinstance(item, list) else [item])]


_VALUE_TYPES = {"BOOL": (bool,), "BYTES": (str,), "FP16": (float, int), "FP32": (float, int)}


def check_response_output(output: Any) -> None:
    """``$response_output``: name, shape, datatype, parameters (optional) and data that
    holds as many values of the datatype as the shape says."""
    assert set(output) <= {"name", "shape", "datatype", "parameters", "data"}, output
    assert {"name", "shape", "datatype", "data"} <= set(output), output
    assert isinstance(output["name"], str)
    assert output["datatype"] in DATATYPES
    shape = output["shape"]
    assert isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)
    if "parameters" in output:
        check_parameters(output["parameters"])
    values = _flat(output["data"])
    assert len(values) == math.prod(shape), output
    datatype = output["datatype"]
    if datatype in _VALUE_TYPES or datatype == "FP64":
        allowed = _VALUE_TYPES.get(datatype, (float, int))
        assert all(isinstance(v, allowed) for v in values), output
    else:  # the integer types
        assert all(type(v) is int for v in values), output


def check_inference_response(body: Any, request_id: str | None) -> None:
    """``$inference_response``: model_name, model_version (optional), id (the request's
    when it gave one), parameters (optional) and the outputs."""
    assert set(body) <= {"model_name", "model_version", "id", "parameters", "outputs"}, body
    assert isinstance(body["model_name"], str)
    if "model_version" in body:
        assert isinstance(body["model_version"], str)
    assert isinstance(body["id"], str)
    if request_id is not None:
        assert body["id"] == request_id
    if "parameters" in body:
        check_parameters(body["parameters"])
    assert isinstance(body["outputs"], list) and body["outputs"]
    for output in body["outputs"]:
        check_response_output(output)


def check_error(status: int, body: Any) -> None:
    """An error object: an HTTP error status and ``{"error": $string}`` (forgeml adds its
    ``fix`` and, for input problems, ``problems``)."""
    assert 400 <= status < 500, (status, body)
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


# ---- health and metadata ----------------------------------------------------------------


def test_health_and_server_metadata(mymodel: Client) -> None:
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/mymodel/ready"):
        assert mymodel.get(path)[0] == 200, path
    assert mymodel.get("/v2/models/mymodel/versions/1/ready")[0] == 200
    assert mymodel.get("/v2/models/other/ready")[0] // 100 == 4  # false: a 4xx status
    status, body, _ = mymodel.get("/v2")
    assert status == 200
    assert set(body) == {"name", "version", "extensions"}
    assert isinstance(body["name"], str) and isinstance(body["version"], str)
    assert isinstance(body["extensions"], list)
    assert all(isinstance(e, str) for e in body["extensions"])


def test_model_metadata_gives_each_input_its_datatype(mymodel: Client, pairs: Client) -> None:
    for client, name in ((mymodel, "mymodel"), (pairs, "pairs")):
        for path in (f"/v2/models/{name}", f"/v2/models/{name}/versions/1"):
            status, body, _ = client.get(path)
            assert status == 200, body
            assert set(body) == {"name", "versions", "platform", "inputs", "outputs"}
            assert body["name"] == name and body["versions"] == ["1"]
            assert isinstance(body["platform"], str)
            for tensor in body["inputs"] + body["outputs"]:
                check_metadata_tensor(tensor)
    inputs = mymodel.get("/v2/models/mymodel")[1]["inputs"]
    assert [(i["name"], i["datatype"]) for i in inputs] == [
        ("input0", "UINT32"),
        ("input1", "BOOL"),
    ]
    (tensor,) = pairs.get("/v2/models/pairs")[1]["inputs"]
    assert tensor == {"name": "input0", "datatype": "UINT32", "shape": [-1, 2]}


def test_metadata_errors_are_error_objects(mymodel: Client) -> None:
    for path in ("/v2/models/other", "/v2/models/mymodel/versions/9"):
        status, body, _ = mymodel.get(path)
        check_error(status, body)


# ---- inference --------------------------------------------------------------------------


def test_the_spec_example_with_one_column_per_input(mymodel: Client) -> None:
    request = {
        "id": "42",
        "inputs": [
            # adapted: shape [2, 2] is not one column, so input0 is the column [3]
            {"name": "input0", "shape": [3], "datatype": "UINT32", "data": [1, 2, 3]},
            # adapted: the spec's shape [3] with its 3 values (it gives one)
            {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True, False, True]},
        ],
        "outputs": [{"name": "predict"}],  # adapted: forgeml's name for output0
    }
    status, body, headers = mymodel.post("/v2/models/mymodel/infer", request)
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    check_inference_response(body, "42")
    (output,) = body["outputs"]
    assert output["name"] == "predict" and output["shape"] == [3]
    assert output["data"] == [2.0, 2.0, 4.0]
    versioned = mymodel.post("/v2/models/mymodel/versions/1/infer", request)[1]
    assert versioned["outputs"] == body["outputs"]


def test_the_spec_example_input0_as_one_tensor_flat_or_nested(pairs: Client) -> None:
    spec_input0 = SPEC_REQUEST["inputs"][0]  # verbatim; input1 is not an input of this model
    request = {"id": "42", "inputs": [spec_input0], "outputs": [{"name": "predict"}]}
    status, body, _ = pairs.post("/v2/models/pairs/infer", request)
    assert status == 200, body
    check_inference_response(body, "42")
    assert body["outputs"] == [
        {"name": "predict", "shape": [2], "datatype": "FP64", "data": [3.0, 7.0]}
    ]
    # the spec's two representations of one matrix: natural (nested) and flattened
    nested = {"inputs": [{**spec_input0, "data": [[1, 2], [3, 4]]}]}
    status, again, _ = pairs.post("/v2/models/pairs/infer", nested)
    assert status == 200, again
    check_inference_response(again, None)
    assert again["outputs"] == body["outputs"]


def test_parameters_are_accepted_on_the_request_its_inputs_and_outputs(mymodel: Client) -> None:
    request = {
        "id": "p-1",
        "parameters": {"priority": 1, "trace": True, "tag": "spec"},
        "inputs": [
            {
                "name": "input0",
                "shape": [2, 1],
                "datatype": "UINT32",
                "parameters": {"note": "column"},
                "data": [[5], [7]],
            },
            {"name": "input1", "shape": [2], "datatype": "BOOL", "data": [False, True]},
        ],
        "outputs": [{"name": "predict", "parameters": {"binary_data": False}}],
    }
    status, body, _ = mymodel.post("/v2/models/mymodel/infer", request)
    assert status == 200, body
    check_inference_response(body, "p-1")
    assert body["outputs"][0]["data"] == [5.0, 8.0]


def test_without_outputs_every_output_comes_back(mymodel: Client) -> None:
    request = {k: v for k, v in SPEC_REQUEST.items() if k not in ("outputs", "id")}
    request["inputs"] = [
        {"name": "input0", "shape": [1], "datatype": "UINT32", "data": [9]},
        {"name": "input1", "shape": [1], "datatype": "BOOL", "data": [True]},
    ]
    status, body, _ = mymodel.post("/v2/models/mymodel/infer", request)
    assert status == 200, body
    check_inference_response(body, None)  # no id asked: the server's own
    assert [o["name"] for o in body["outputs"]] == ["predict"]
    assert body["outputs"][0]["data"] == [10.0]


# ---- errors -----------------------------------------------------------------------------


def test_the_spec_example_as_given_is_refused_with_an_error_object(mymodel: Client) -> None:
    # input1 says shape [3] but holds one value: the error names it
    status, body, _ = mymodel.post("/v2/models/mymodel/infer", SPEC_REQUEST)
    check_error(status, body)
    assert status == 400 and "input1" in body["error"] and "[3]" in body["error"]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            {"inputs": [{"name": "input0", "shape": [1], "datatype": "UINT33", "data": [1]}]},
            "datatype",
        ),
        ({"inputs": [{"name": "input0", "shape": [2], "datatype": "UINT32", "data": [1]}]}, "[2]"),
        ({"outputs": [{"name": "output0"}]}, "output0"),
        ({"id": 42}, "id"),
        ({"parameters": ["not", "an", "object"]}, "parameters"),
    ],
)
def test_malformed_requests_are_error_objects(
    mymodel: Client, change: dict[str, Any], said: str
) -> None:
    request = {
        "inputs": [
            {"name": "input0", "shape": [1], "datatype": "UINT32", "data": [1]},
            {"name": "input1", "shape": [1], "datatype": "BOOL", "data": [True]},
        ],
        **change,
    }
    status, body, _ = mymodel.post("/v2/models/mymodel/infer", request)
    check_error(status, body)
    assert said in body["error"], body


def test_a_value_the_input_type_cannot_hold_is_described_in_the_error(mymodel: Client) -> None:
    request = {
        "inputs": [
            {"name": "input0", "shape": [1], "datatype": "INT64", "data": [-1]},
            {"name": "input1", "shape": [1], "datatype": "BOOL", "data": [True]},
        ]
    }
    status, body, _ = mymodel.post("/v2/models/mymodel/infer", request)
    check_error(status, body)
    assert "input0" in body["error"] and "uint32" in body["error"], body


def test_the_reply_datatypes_match_numpy_for_the_values(pairs: Client) -> None:
    rows = np.arange(12, dtype=np.uint32).reshape(6, 2)
    request = {
        "inputs": [{"name": "input0", "shape": [6, 2], "datatype": "UINT32", "data": rows.tolist()}]
    }
    status, body, _ = pairs.post("/v2/models/pairs/infer", request)
    assert status == 200, body
    check_inference_response(body, None)
    assert body["outputs"][0]["data"] == rows.sum(axis=1).astype(float).tolist()
