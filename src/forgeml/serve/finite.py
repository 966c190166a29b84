"""The rule that keeps every answer finite: rows the model cannot score are refused.

A model's arithmetic can overflow on numbers that are valid JSON but absurd for the model
(two features at the largest double, say): a linear model's sum becomes infinite and its
score NaN. Such a row is never answered with a null or non-finite score; it is refused,
naming the input that lies farthest outside its training range (measured in multiples of
that range's span), or ``(row)`` when every input is inside it.

>>> from forgeml.serve.inputs import InputSchema
>>> schema = InputSchema([{"name": "age", "kind": "float", "min": 18, "max": 90},
...                       {"name": "debt", "kind": "float", "min": 0, "max": 1000}])
>>> batch = schema.read([{"age": 30, "debt": 1e308}, {"age": 40, "debt": 10}])
>>> [(p["field"], p["row"]) for p in unscorable(schema, batch.numbers, np.array([np.inf, 0.4]))]
[('debt', 0)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forgeml.serve.inputs import InputSchema, range_problem

__all__ = ["NONFINITE_FIX", "NONFINITE_PROBLEM", "nonfinite_rows", "unscorable"]

NONFINITE_PROBLEM = "makes the model's output non-finite"
NONFINITE_FIX = "send values within (or near) the training range that GET /model lists"


def nonfinite_rows(outputs: np.ndarray) -> np.ndarray:
    """Indices of the rows whose output (a score, or a row of probabilities) is not finite."""
    values = np.asarray(outputs, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        return np.empty(0, dtype=np.intp)
    if values.ndim > 1:
        finite = np.asarray(finite.all(axis=tuple(range(1, values.ndim))))
    return np.flatnonzero(~finite)


def unscorable(
    schema: InputSchema, numbers: np.ndarray, outputs: np.ndarray
) -> list[dict[str, Any]]:
    """One problem per row whose output is not finite (empty when every output is)."""
    rows = nonfinite_rows(outputs)
    if not len(rows):
        return []
    by_name = {str(c["name"]): c for c in schema.inputs}
    ranges = schema.ranges
    lows = np.array([ranges[n][0] for n in schema.numeric], dtype=np.float64)
    highs = np.array([ranges[n][1] for n in schema.numeric], dtype=np.float64)
    problems = []
    for row in rows.tolist():
        field, problem = "(row)", NONFINITE_PROBLEM
        if len(schema.numeric):
            farthest = _farthest(numbers[row], lows, highs)
            if farthest is not None:
                field = schema.numeric[farthest]
                problem = f"{NONFINITE_PROBLEM}; {range_problem(by_name[field])}"
        problems.append({"field": field, "row": row, "problem": problem})
    return problems


def _farthest(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> int | None:
    """The input farthest outside its range, in spans of that range; None if none is."""
    with np.errstate(invalid="ignore", over="ignore"):
        span = np.where(np.isfinite(highs - lows) & (highs > lows), highs - lows, 1.0)
        outside = np.maximum(lows - values, values - highs) / span
    outside = np.where(np.isnan(outside), -np.inf, outside)
    if not len(outside) or outside.max() <= 0:
        return None
    return int(np.argmax(outside))
