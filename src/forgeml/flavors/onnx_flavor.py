"""ONNX models: the protobuf stored as is, checked by ``onnx.checker``, run by onnxruntime.

An ONNX file is a graph of operators and tensors; reading it runs no Python code.

>>> import onnx
>>> from onnx import TensorProto, helper
>>> graph = helper.make_graph(
...     [helper.make_node("Relu", ["x"], ["y"])], "relu",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])])
>>> model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
>>> session = load({"model": dump(model)["model"][1]})
>>> predict(session, np.array([[-1.0, 2.0]])).tolist()
[[0.0, 2.0]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from forgeml.errors import ArtifactError, ConfigError, InputRejected

__all__ = ["dump", "feed", "graph_columns", "input_dtype", "load", "owns", "predict"]

_ELEMENTS = {"float": "float32", "double": "float64", "string": "object"}
"""onnxruntime's element type names that are not NumPy's."""
_KINDS = {"f": "float", "i": "integer", "u": "integer", "b": "boolean", "O": "category"}
"""A graph input's NumPy dtype kind as the forgeml column kind a request sends for it."""
_EXPECTED = {
    "float": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "category": "a string",
}


def owns(model: Any) -> bool:
    import onnx

    return isinstance(model, onnx.ModelProto)


def dump(model: Any) -> dict[str, tuple[str, bytes]]:
    """The model's bytes (a ``ModelProto``, serialized bytes or a path to a .onnx file)."""
    import onnx

    if isinstance(model, (str, Path)):
        model = Path(model).read_bytes()
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else bytes(model)
    try:
        onnx.checker.check_model(onnx.load_from_string(data))
    except Exception as e:  # onnx's own decode and check errors
        raise ConfigError(
            f"the ONNX model is not valid ({type(e).__name__}: {e})",
            fix="export it again (torch.onnx.export, skl2onnx) and check it with "
            "onnx.checker.check_model",
        ) from None
    load({"model": data})
    return {"model": ("onnx", data)}


def load(
    parts: dict[str, bytes], options: dict[str, Any] | None = None, *, trust_code: bool = False
) -> Any:
    """An onnxruntime session on one thread (a server runs one per worker).

    ``trust_code`` changes nothing: no part of this format holds code to admit.
    """
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.intra_op_num_threads = 1
    settings.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(
            parts["model"], settings, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime's own load errors
        raise ArtifactError(
            f"onnxruntime cannot load the ONNX model ({type(e).__name__}: {e})",
            fix="export the model with an opset this onnxruntime supports",
        ) from None


def input_dtype(session: Any) -> Any:
    """The NumPy dtype of the session's first input (float32 when unknown)."""
    return _dtype(session.get_inputs()[0].type) or np.dtype(np.float32)


def _dtype(given: str) -> np.dtype[Any] | None:
    """The NumPy dtype of an onnxruntime type name (``tensor(uint32)``), None if it has none."""
    element = given.removeprefix("tensor(").removesuffix(")")
    try:
        return np.dtype(_ELEMENTS.get(element, element))
    except TypeError:
        return None


def graph_columns(model: Any) -> list[dict[str, Any]] | None:
    """The input columns of a graph fed one input per column, each with its own type.

    None for a graph with one input (a matrix or a tensor). Each input is a column,
    shape ``[batch]`` or ``[batch, 1]``: ``{"name", "kind", "dtype", "nullable"}``, the
    kind being what a request sends (``float``, ``integer``, ``boolean``, ``category``).

    >>> from onnx import TensorProto, helper
    >>> graph = helper.make_graph(
    ...     [helper.make_node("Cast", ["n"], ["y"], to=TensorProto.FLOAT)], "two",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1]),
    ...      helper.make_tensor_value_info("n", TensorProto.INT64, [None, 1])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])])
    >>> [(c["name"], c["kind"], c["dtype"]) for c in graph_columns(helper.make_model(graph))]
    [('x', 'float', 'float32'), ('n', 'integer', 'int64')]
    """
    from onnx import helper

    initialized = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialized]
    if len(inputs) < 2:
        return None
    columns = []
    for given in inputs:
        tensor = given.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        kind = _KINDS.get(dtype.kind)
        if kind is None or dims not in ([-1], [-1, 1]):
            raise ConfigError(
                f"input {given.name!r} of the ONNX model is a {dtype} tensor of shape {dims}; "
                "a graph with several inputs is fed one column per input: numbers, booleans "
                "or strings of shape [batch] or [batch, 1]",
                fix="export the model with one [None, 1] input per column (skl2onnx does for "
                "a DataFrame), or with a single input tensor",
            )
        name = "str" if kind == "category" else dtype.name
        columns.append({"name": given.name, "kind": kind, "dtype": name, "nullable": False})
    return columns


def predict(session: Any, x: np.ndarray) -> np.ndarray:
    """The last float output per row (probabilities when a classifier's graph has them).

    A graph with one input per column (a converted pipeline that selects columns by
    name) is fed the matrix's columns in order, each as its own input's type: a float
    block for numbers, or an object block (rows, inputs) when a column holds strings.
    """
    outputs = session.run(None, feed(session, x))
    chosen = outputs[0]
    for out in outputs[1:]:  # skl2onnx classifiers: [labels, probabilities]
        if isinstance(out, np.ndarray) and out.dtype.kind == "f":
            chosen = out
        elif isinstance(out, list) and out and isinstance(out[0], dict):  # zipmap
            chosen = np.array([[row[k] for k in sorted(row)] for row in out])
    return np.asarray(chosen, dtype=np.float64)


def feed(session: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """The session's inputs from a matrix: its columns one an input, each of its input's
    type, when the graph takes one input per column; else the matrix as the first input.

    Raises :class:`InputRejected` naming the input when a value does not fit its type.
    """
    inputs = session.get_inputs()
    if len(inputs) > 1 and x.ndim == 2 and x.shape[1] == len(inputs):
        return {i.name: _column(i, x[:, j]) for j, i in enumerate(inputs)}
    return {inputs[0].name: np.ascontiguousarray(x, dtype=input_dtype(session))}


def _column(given: Any, values: np.ndarray) -> np.ndarray:
    """One column as the graph input ``given`` takes it; InputRejected when it cannot be."""
    fast = values.dtype == _dtype(given.type)  # already the input's type: no check
    converted = values if fast else _converted(given, values)
    return np.ascontiguousarray(converted.reshape(-1, 1) if len(given.shape) == 2 else converted)


def _converted(given: Any, values: np.ndarray) -> np.ndarray:
    dtype = _dtype(given.type) or np.dtype(object)
    kind = _KINDS.get(dtype.kind, "")
    if kind == "category":
        if all(isinstance(v, str) for v in values.tolist()):
            return values.astype(object)
        raise _refused(given.name, "string", kind)
    try:
        numbers = np.asarray(values, dtype=np.float64 if kind != "float" else dtype)
    except (TypeError, ValueError):
        raise _refused(given.name, dtype.name, kind) from None
    if kind == "float":
        return numbers  # NaN stays: a graph may impute it
    wrong = not np.isfinite(numbers).all()
    if kind == "integer" and not wrong:
        info = np.iinfo(dtype)
        whole = np.array_equal(numbers, np.round(numbers))
        wrong = not (whole and numbers.min() >= info.min and numbers.max() <= info.max)
    elif kind == "boolean" and not wrong:
        wrong = not np.isin(numbers, (0.0, 1.0)).all()
    if wrong:
        raise _refused(given.name, dtype.name, kind)
    return numbers.astype(dtype)


def _refused(name: str, dtype: str, kind: str) -> InputRejected:
    expected = _EXPECTED.get(kind, dtype)
    if kind == "integer":
        info = np.iinfo(dtype)
        expected = f"{expected} from {info.min} to {info.max}"
    return InputRejected(
        [{"field": name, "problem": f"expected {expected} (the model's input {name} is {dtype})"}],
        fix=f"send {name} as {expected} in every row: the ONNX graph takes it as {dtype}",
    )
