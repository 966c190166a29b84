"""The Open Inference Protocol (KServe V2 REST): paths, requests, replies and metadata.

An inference request names its inputs one of two ways:

- one input per model column (request ``parameters.content_type: "pd"``, or every input
  named after a column), each of shape ``[rows]`` or ``[rows, 1]``;
- one tensor of shape ``[rows, K]`` whose K values per row are the model's columns in
  signature order (``GET /v2/models/{name}`` lists them).

A model logged with a tensor signature takes its one tensor under its own name, of the
signature's shape (``[rows, 1, 8, 8]``, or one instance without the batch axis).

``data`` may be flat (row-major) or nested; its size must match ``shape`` and its values the
``datatype``. The reply lists ``outputs``: ``predict`` (the label, or the value for
regression) and, for classifiers, ``predict_proba`` (one probability per class, in the
order of the model's classes); a request's ``outputs`` picks among them.

>>> columns = infer_columns(
...     {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}]},
...     ["a", "b"], {"a": "float", "b": "float"})
>>> columns.columns
{'a': [1, 3], 'b': [2, 4]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forgeml.serve.protocols.errors import ProtocolError
from forgeml.serve.scoring import Scored, Scorer
from forgeml.serve.tensors import TensorSchema

__all__ = [
    "DATATYPES",
    "InferRequest",
    "OipPath",
    "infer_columns",
    "infer_outputs",
    "infer_tensor",
    "model_metadata",
    "parse_path",
]

_INTEGERS = frozenset({"UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"})
_FLOATS = frozenset({"FP16", "FP32", "FP64"})
DATATYPES = _INTEGERS | _FLOATS | {"BOOL", "BYTES"}
_KIND_TYPE = {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}
# NumPy dtype -> the protocol's datatype, for a tensor signature's input
_DTYPE_TYPE = {
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "bool": "BOOL",
    "str": "BYTES",
    **{
        f"{sign}int{bits}": f"{sign.upper()}INT{bits}"
        for sign in ("", "u")
        for bits in (8, 16, 32, 64)
    },
}
_SPEC = "see the Open Inference Protocol's inference request"
_MAX_DEPTH = 8


@dataclass(frozen=True)
class OipPath:
    """A parsed ``/v2/...`` path: ``kind`` is server, live, ready, model, model_ready or infer."""

    kind: str
    model: str | None = None
    version: str | None = None


def parse_path(path: str) -> OipPath | None:
    """The OIP route ``path`` names, or None.

    >>> parse_path("/v2/models/credit/versions/3/infer")
    OipPath(kind='infer', model='credit', version='3')
    >>> parse_path("/v2/health/ready")
    OipPath(kind='ready', model=None, version=None)
    """
    if path == "/v2":
        parts: list[str] = []
    elif path.startswith("/v2/"):
        parts = path[4:].split("/")
        if parts[-1] == "":
            parts.pop()
    else:
        return None
    if not parts:
        return OipPath("server")
    if parts in (["health", "live"], ["health", "ready"]):
        return OipPath(parts[1])
    if len(parts) < 2 or parts[0] != "models" or not parts[1]:
        return None
    model, rest = parts[1], parts[2:]
    version = None
    if rest[:1] == ["versions"]:
        if len(rest) < 2 or not rest[1]:
            return None
        version, rest = rest[1], rest[2:]
    if not rest:
        return OipPath("model", model, version)
    if rest == ["ready"]:
        return OipPath("model_ready", model, version)
    if rest == ["infer"]:
        return OipPath("infer", model, version)
    return None


@dataclass(frozen=True)
class InferRequest:
    """An inference request read into columns: its ``id`` and the ``outputs`` it asks for."""

    columns: dict[str, list[Any]]
    id: str | None
    outputs: list[str] | None


def infer_columns(
    payload: Any,
    names: Sequence[str],
    kinds: Mapping[str, str],
    booleans: Sequence[str] = (),
) -> InferRequest:
    """The columns of an inference request for a model with inputs ``names`` (``kinds``;
    ``booleans`` are the boolean ones, which may come as 0/1 in a numeric tensor)."""
    tensors, given_id, parameters = _envelope(payload)
    columns_named = (parameters or {}).get("content_type") == "pd" or all(
        name in kinds for name, _, _, _ in tensors
    )
    if columns_named:
        columns: dict[str, list[Any]] = {}
        for i, (name, shape, datatype, data) in enumerate(tensors):
            if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
                raise ProtocolError(
                    f"inputs[{i}] ({name}): shape {shape} is not one column",
                    "send one input per column with shape [rows] or [rows, 1]",
                )
            if name in columns:
                raise ProtocolError(f"inputs[{i}] ({name}): sent twice", "send each column once")
            columns[name] = _as_kind(data, datatype, kinds.get(name))
    elif len(tensors) == 1 and len(tensors[0][1]) == 2 and tensors[0][1][1] == len(names):
        name, shape, datatype, data = tensors[0]
        width = shape[1]
        if shape[0] == 1:  # the usual request: one row
            columns = dict(zip(names, ([v] for v in data), strict=True))
        else:
            columns = {column: data[j::width] for j, column in enumerate(names)}
        if datatype != "BOOL":
            for column in booleans:
                columns[column] = _as_kind(columns[column], datatype, "boolean")
    else:
        raise ProtocolError(
            f"the inputs are neither the model's columns nor one [rows, {len(names)}] tensor",
            "name each input after a column (request parameters.content_type 'pd'), or send "
            f"one tensor of shape [rows, {len(names)}] in the column order of "
            "GET /v2/models/{name}",
        )
    return InferRequest(columns, given_id, _requested(payload.get("outputs")))


def infer_tensor(payload: Any, schema: TensorSchema) -> tuple[dict[str, Any], InferRequest]:
    """The payload of an inference request for a model that takes one tensor, as
    :meth:`TensorSchema.read` takes it (which checks its shape and values).

    >>> schema = TensorSchema([{"name": "x", "dtype": "float32", "shape": [-1, 2]}])
    >>> tensor, _ = infer_tensor(
    ...     {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
    ...     schema)
    >>> tensor["x"].tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    tensors, given_id, _ = _envelope(payload)
    fix = (
        f"send one input named {schema.name!r} of shape {schema.shape} "
        "(GET /v2/models/{name} shows it)"
    )
    if len(tensors) != 1:
        raise ProtocolError(f"this model takes one tensor, not {len(tensors)}", fix)
    name, shape, datatype, data = tensors[0]
    if name != schema.name:
        raise ProtocolError(
            f"inputs[0] is named {name[:64]!r}; this model's input is {schema.name!r}", fix
        )
    if datatype not in _INTEGERS | _FLOATS:
        raise ProtocolError(f"inputs[0] ({name}): datatype {datatype} is not a number type", fix)
    values = np.array([math.nan if v is None else v for v in data], dtype=np.float64)
    return {name: values.reshape(shape)}, InferRequest(
        {}, given_id, _requested(payload.get("outputs"))
    )


def _envelope(payload: Any) -> tuple[list[tuple[str, list[int], str, list[Any]]], str | None, Any]:
    """A request's tensors, id and parameters, each checked."""
    if not isinstance(payload, dict):
        raise ProtocolError(
            "the request must be a JSON object", f'send {{"inputs": [...]}}; {_SPEC}'
        )
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("'inputs' must be a non-empty array of tensors", _SPEC)
    given_id = payload.get("id")
    if given_id is not None and not isinstance(given_id, str):
        raise ProtocolError("'id' must be a string", "send the request id as a string")
    parameters = payload.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise ProtocolError("'parameters' must be an object", _SPEC)
    return [_tensor(i, tensor) for i, tensor in enumerate(inputs)], given_id, parameters


def _tensor(i: int, tensor: Any) -> tuple[str, list[int], str, list[Any]]:
    if not isinstance(tensor, dict):
        raise ProtocolError(f"inputs[{i}] must be an object", _SPEC)
    name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str) or not name:
        raise ProtocolError(f"inputs[{i}].name must be a non-empty string", _SPEC)
    where = f"inputs[{i}] ({name[:64]})"
    if (
        not isinstance(shape, list)
        or not shape
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise ProtocolError(f"{where}: shape must be an array of sizes", "e.g. [rows] or [rows, K]")
    if datatype not in DATATYPES:
        raise ProtocolError(
            f"{where}: datatype must be one of the protocol's types",
            "use " + ", ".join(sorted(DATATYPES)),
        )
    data = tensor.get("data")
    if not isinstance(data, list):
        raise ProtocolError(f"{where}: data must be an array (binary data is not supported)", _SPEC)
    types = set(map(type, data))
    if list in types:
        data = _flatten(data, where)
        types = set(map(type, data))
    size = math.prod(shape)
    if len(data) != size:
        raise ProtocolError(
            f"{where}: shape {shape} holds {size} values but data has {len(data)}",
            "make shape and data agree",
        )
    allowed, wanted = _ALLOWED[datatype]
    if not types <= allowed:
        raise ProtocolError(
            f"{where}: datatype {datatype} holds {wanted} only",
            "send the datatype that matches the values (BYTES for strings, BOOL for booleans)",
        )
    return name, shape, datatype, data


def _flatten(data: list[Any], where: str) -> list[Any]:
    """Nested data in row-major order."""
    flat: list[Any] = []
    _walk(data, flat, 0, where)
    return flat


def _walk(data: list[Any], flat: list[Any], depth: int, where: str) -> None:
    if depth > _MAX_DEPTH:
        raise ProtocolError(f"{where}: data is nested too deeply", "send flat, row-major data")
    for value in data:
        if type(value) is list:
            _walk(value, flat, depth + 1, where)
        else:
            flat.append(value)


_NONE = type(None)
_ALLOWED = {
    "BYTES": (frozenset({str, _NONE}), "strings"),
    "BOOL": (frozenset({bool, _NONE}), "true or false"),
    **{t: (frozenset({int, _NONE}), "integers") for t in _INTEGERS},
    **{t: (frozenset({int, float, _NONE}), "numbers") for t in _FLOATS},
}


def _as_kind(values: list[Any], datatype: str, kind: str | None) -> list[Any]:
    """Booleans sent as 0/1 numbers become true/false for a boolean column."""
    if kind == "boolean" and datatype != "BOOL":
        return [v if v is None or type(v) is str else bool(v) if v in (0, 1) else v for v in values]
    return values


def _requested(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise ProtocolError("'outputs' must be an array of {\"name\": ...}", _SPEC)
    return [o["name"] for o in outputs]


def _label_type(classes: Sequence[Any] | None) -> str:
    if not classes:
        return "INT64"
    first = classes[0]
    if isinstance(first, bool):
        return "BOOL"
    if isinstance(first, int):
        return "INT64"
    if isinstance(first, float):
        return "FP64"
    return "BYTES"


def output_names(scorer: Scorer) -> list[str]:
    return ["predict"] if scorer.task == "regression" else ["predict", "predict_proba"]


def infer_outputs(
    scorer: Scorer, scored: Scored, requested: list[str] | None
) -> list[dict[str, Any]]:
    """The reply's ``outputs``: those ``requested`` (all when None)."""
    names = output_names(scorer)
    if requested is not None:
        unknown = [name for name in requested if name not in names]
        if unknown:
            raise ProtocolError(
                f"output '{unknown[0][:64]}' is not an output of this model",
                "ask for " + " or ".join(names),
            )
    rows = len(scored.scores)
    out: list[dict[str, Any]] = []
    for name in requested if requested is not None else names:
        if name == "predict" and scored.labels is None:
            out.append({"name": name, "shape": [rows], "datatype": "FP64", "data": scored.scores})
        elif name == "predict":
            out.append(
                {
                    "name": name,
                    "shape": [rows],
                    "datatype": _label_type(scorer.classes),
                    "data": scored.labels,
                }
            )
        else:
            if scored.probabilities is not None:
                block = scored.probabilities
            else:
                block = np.empty((rows, 2), dtype=np.float64)
                np.subtract(1.0, scored.scores, out=block[:, 0])
                block[:, 1] = scored.scores
            out.append(
                {
                    "name": name,
                    "shape": list(block.shape),
                    "datatype": "FP64",
                    "data": block.ravel(),
                }
            )
    return out


def model_metadata(scorer: Scorer, flavor: str) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the versions served, inputs in column order (or the one
    tensor), outputs."""
    schema = scorer.schema
    if isinstance(schema, TensorSchema):
        inputs = [
            {"name": schema.name, "datatype": _DTYPE_TYPE[schema.dtype.name], "shape": schema.shape}
        ]
    else:
        inputs = [
            {
                "name": column["name"],
                # the input's own type where the signature records it (an ONNX graph's)
                "datatype": _DTYPE_TYPE.get(str(column.get("dtype")))
                or _KIND_TYPE.get(str(column.get("kind")), "BYTES"),
                "shape": [-1],
            }
            for column in schema.inputs
        ]
    outputs = [
        {
            "name": "predict",
            "datatype": "FP64" if scorer.task == "regression" else _label_type(scorer.classes),
            "shape": [-1],
        }
    ]
    if scorer.task != "regression":
        width = len(scorer.classes or []) or 2
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, width]})
    return {
        "name": scorer.model,
        "versions": [str(scorer.number)],
        "platform": f"forgeml-{flavor}",
        "inputs": inputs,
        "outputs": outputs,
    }
