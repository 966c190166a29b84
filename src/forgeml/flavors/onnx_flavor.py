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

from forgeml.errors import ArtifactError, ConfigError

__all__ = ["dump", "input_dtype", "load", "owns", "predict"]

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
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
    return _DTYPES.get(session.get_inputs()[0].type, np.float32)


def predict(session: Any, x: np.ndarray) -> np.ndarray:
    """The last float output per row (probabilities when a classifier's graph has them).

    A graph with one input per column (a converted pipeline that selects columns by
    name) is fed the matrix's columns in order.
    """
    inputs = session.get_inputs()
    x = np.ascontiguousarray(x, dtype=input_dtype(session))
    if len(inputs) > 1 and x.ndim == 2 and x.shape[1] == len(inputs):
        feed = {i.name: x[:, j : j + 1] for j, i in enumerate(inputs)}  # one input a column
    else:
        feed = {inputs[0].name: x}
    outputs = session.run(None, feed)
    chosen = outputs[0]
    for out in outputs[1:]:  # skl2onnx classifiers: [labels, probabilities]
        if isinstance(out, np.ndarray) and out.dtype.kind == "f":
            chosen = out
        elif isinstance(out, list) and out and isinstance(out[0], dict):  # zipmap
            chosen = np.array([[row[k] for k in sorted(row)] for row in out])
    return np.asarray(chosen, dtype=np.float64)
