"""Tensor inputs: a request's arrays checked against the model's tensor signature.

A model logged with a tensor signature (``{"name": "image", "dtype": "float32",
"shape": [-1, 1, 8, 8]}``) takes a JSON object naming its input with a nested list,
either a batch (``[[[...]]]`` of shape ``[n, 1, 8, 8]``) or one instance (``[1, 8, 8]``)::

    {"image": [[[0.0, 0.1, ...], ...]]}     or     {"inputs": {"image": ...}}

A wrong shape, a value that is not a number or a dtype that cannot hold it is refused
with 422 naming the input and the expected shape. The prediction log keeps three summary
statistics per row and input (``image.mean``, ``image.std``, ``image.norm``): monitoring
watches their drift against the reference stored at registration.

>>> schema = TensorSchema([{"name": "x", "dtype": "float32", "shape": [-1, 2]}])
>>> batch = schema.read({"x": [[3.0, 4.0]]})
>>> batch.rows, batch.numbers.dtype.name, dict(schema.loggable(batch))["x.norm"]
(1, 'float32', [5.0])
>>> schema.read({"x": [[1.0, 2.0, 3.0]]})
Traceback (most recent call last):
...
forgeml.errors.InputRejected: invalid input: x: expected shape [-1, 2] (any batch size), got [1, 3]
  fix: send x as a nested list of shape [-1, 2] (GET /model shows the signature)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from forgeml.errors import InputRejected
from forgeml.serve.inputs import Batch

__all__ = ["SUMMARIES", "TensorSchema", "summary_columns", "summary_stats"]

SUMMARIES = ("mean", "std", "norm")


def summary_columns(tensors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The logged (and monitored) columns of tensor inputs, as signature input columns."""
    return [
        {"name": f"{t['name']}.{s}", "kind": "float", "nullable": False}
        for t in tensors
        for s in SUMMARIES
    ]


def summary_stats(name: str, array: np.ndarray) -> dict[str, list[float]]:
    """Per row of a batch: the mean, standard deviation and L2 norm of its values."""
    flat = np.asarray(array, dtype=np.float64).reshape(len(array), -1)
    return {
        f"{name}.mean": flat.mean(axis=1).tolist(),
        f"{name}.std": flat.std(axis=1).tolist(),
        f"{name}.norm": np.linalg.norm(flat, axis=1).tolist(),
    }


class TensorSchema:
    """Reads a request's tensor into a checked (batch, ...) array of the signature's dtype."""

    def __init__(self, tensors: Sequence[Mapping[str, Any]], *, max_rows: int = 10_000) -> None:
        self.tensor = dict(tensors[0])  # one input: the array the model is called with
        self.name = str(self.tensor["name"])
        self.shape = [int(s) for s in self.tensor["shape"]]
        self.dtype = np.dtype(self.tensor["dtype"])
        self.max_rows = max_rows
        self.inputs = summary_columns([self.tensor])
        self.names = [c["name"] for c in self.inputs]
        self.numeric: list[str] = []  # no column is checked against a range
        self.ranges: dict[str, tuple[float, float]] = {}
        self.passthrough: tuple[str, ...] = ()

    def read(self, payload: Any, *, columnar: bool = False) -> Batch:
        """The checked batch; InputRejected names the input and the expected shape."""
        if columnar:
            raise self._refused("expected one array, not one array per column")
        value = self._value(payload)
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._refused("expected a nested list of numbers with a regular shape") from None
        if array.ndim == len(self.shape) - 1:
            array = array[np.newaxis]  # one instance
        fixed = self.shape[1:]
        if array.ndim != len(self.shape) or list(array.shape[1:]) != fixed or not len(array):
            raise self._refused(
                f"expected shape {self.shape} (any batch size), got {list(array.shape)}"
            )
        if len(array) > self.max_rows:
            raise self._refused(f"a batch of {len(array)} is more than {self.max_rows}")
        if self.dtype.kind in "iu" and not np.array_equal(array, np.round(array)):
            raise self._refused(f"expected integers ({self.dtype.name}), got fractions")
        if not np.isfinite(array).all():
            raise self._refused("expected finite numbers, got NaN or infinity")
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            if array.min() < info.min or array.max() > info.max:
                raise self._refused(f"a value does not fit {self.dtype.name}")
        checked = np.ascontiguousarray(array, dtype=self.dtype)
        return Batch(len(checked), {}, checked, [], [])

    def loggable(self, batch: Batch) -> dict[str, list[float]]:
        return summary_stats(self.name, batch.numbers)

    def _value(self, payload: Any) -> Any:
        if isinstance(payload, Mapping) and isinstance(payload.get("inputs"), Mapping):
            payload = payload["inputs"]
        if not isinstance(payload, Mapping) or self.name not in payload:
            raise self._refused(f"is missing: send {{{self.name!r}: [...]}}")
        return payload[self.name]

    def _refused(self, problem: str) -> InputRejected:
        return InputRejected(
            [{"field": self.name, "problem": problem}],
            fix=f"send {self.name} as a nested list of shape {self.shape} "
            "(GET /model shows the signature)",
        )
