"""Buffered log calls, and the Arrow tables a batch of them becomes.

The serving hot path only records a call (references to what it was given); all Arrow
work happens here, on the flushing thread.

>>> from forgeml.serve.logschema import input_columns
>>> call = PredictionCall(["r1", "r2"], 3, "champion", {"age": [41, "?"]}, [0.9, float("nan")],
...                       [1, 0], 2.5, 1_700_000_000.0, ["age:out_of_range"], 2)
>>> table = predictions_table([call], input_columns([{"name": "age", "kind": "integer"}]), "m")
>>> table.column("age").to_pylist(), table.column("score").to_pylist()
([41, None], [0.9, None])
>>> table.column("label").to_pylist(), table.column("flags").to_pylist()
(['1', '0'], [['age:out_of_range'], ['age:out_of_range']])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from forgeml.errors import DataError
from forgeml.serve.inputs import LoggedInputs
from forgeml.serve.logschema import (
    FEEDBACK_SCHEMA,
    PREDICTION_SCHEMA,
    TIME_TYPE,
    InputColumn,
    segment_schema,
)
from forgeml.serve.logvalues import as_list, encode_labels, finite, to_arrow

__all__ = [
    "FeedbackCall",
    "PredictionCall",
    "check_feedback",
    "check_predictions",
    "feedback_table",
    "predictions_table",
]

_INT32 = 2**31


class PredictionCall(NamedTuple):
    """One ``log_predictions`` call, as given (``rows`` values in every column)."""

    ids: Sequence[Any]
    version: Any
    arm: Any
    inputs: Mapping[str, Any]
    scores: Any
    labels: Any
    latency_ms: Any
    time: float
    flags: Sequence[Any]
    rows: int


class FeedbackCall(NamedTuple):
    """One ``log_feedback`` call, as given."""

    ids: Sequence[Any]
    labels: Sequence[Any]
    time: float
    rows: int


def check_predictions(ids: Any, inputs: Any, scores: Any, labels: Any) -> int:
    """The number of rows of a call; a column of another length is a :class:`DataError`."""
    try:  # the common case, in a few hundred nanoseconds
        rows = len(ids)
        if (
            type(ids) is not str
            and len(scores) == rows
            and (labels is None or len(labels) == rows)
            and (
                inputs.rows == rows
                if type(inputs) is LoggedInputs
                else set(map(len, inputs.values())) <= {rows}
                and str not in set(map(type, inputs.values()))
            )
        ):
            return rows
    except (TypeError, AttributeError):
        pass
    rows = _length("ids", ids)
    if not isinstance(inputs, Mapping):
        raise DataError(
            f"inputs must map column names to values, not a {type(inputs).__name__}",
            fix="pass the request's columns, e.g. {'income': [52000.0]}",
        )
    _same(rows, "scores", scores)
    if labels is not None:
        _same(rows, "labels", labels)
    for name, values in inputs.items():
        _same(rows, f"inputs['{name}']", values)
    return rows


def check_feedback(ids: Any, labels: Any) -> int:
    """The number of feedback rows; ``labels`` must have one per id."""
    rows = _length("ids", ids)
    _same(rows, "labels", labels)
    return rows


def predictions_table(
    calls: Sequence[PredictionCall], columns: Sequence[InputColumn], model: str
) -> pa.Table:
    """One predictions segment from buffered calls, in the order they were logged."""
    repeat = _repeat(calls)
    rows = [c.rows for c in calls]
    per_call = pa.table(
        {
            "time": _times(calls),
            "version": pa.array([_int32(c.version) for c in calls], pa.int32()),
            "arm": pa.array([None if c.arm is None else str(c.arm) for c in calls], pa.string()),
            "latency_ms": pa.array([_latency(c.latency_ms) for c in calls], pa.float32()),
            "flags": pa.array([_flags(c.flags) for c in calls], pa.list_(pa.string())),
        }
    ).take(repeat)
    arrays = {
        "request_id": _ids(_flat([c.ids for c in calls], rows)),
        **{name: per_call.column(name) for name in per_call.column_names},
        "score": finite(_flat([c.scores for c in calls], rows)),
        "label": pa.array(encode_labels(_flat([c.labels for c in calls], rows)), pa.string()),
    }
    fields = list(PREDICTION_SCHEMA)
    blocks = _shared_block(calls)
    for column in columns:
        array = None
        if column.name in blocks and column.type is not None:
            array = _from_numbers(blocks[column.name], column.type)
        if array is not None:
            arrays[column.stored] = array
            fields.append(column.field(array.type))
            continue
        parts = [c.inputs.get(column.name) for c in calls]
        array = _from_blocks(parts, column.type)
        if array is None:
            array = to_arrow(_flat(parts, rows), column.type)
        arrays[column.stored] = array
        fields.append(column.field(array.type))
    schema = segment_schema(fields, model=model, kind="predictions")
    return pa.table([arrays[f.name] for f in schema], schema=schema)


def feedback_table(calls: Sequence[FeedbackCall], model: str) -> pa.Table:
    """One feedback segment from buffered calls."""
    schema = segment_schema(list(FEEDBACK_SCHEMA), model=model, kind="feedback")
    rows = [c.rows for c in calls]
    arrays = [
        _ids(_flat([c.ids for c in calls], rows)),
        pa.array(encode_labels(_flat([c.labels for c in calls], rows)), pa.string()),
        _times(calls).take(_repeat(calls)),
    ]
    return pa.table(arrays, schema=schema)


def _shared_block(calls: Sequence[PredictionCall]) -> dict[str, np.ndarray]:
    """The numeric input columns of calls that all logged one schema's checked numbers.

    The server logs each request's numbers as one float64 block; when every call in the
    batch did (with the same columns), the batch's numbers are one concatenation away,
    instead of one lookup per call and column. Empty otherwise.
    """
    blocks: list[np.ndarray] = []
    positions: Mapping[str, int] | None = None
    for call in calls:
        inputs = call.inputs
        if not isinstance(inputs, LoggedInputs):
            return {}
        if positions is None:
            positions = inputs.positions
        elif inputs.positions is not positions:
            return {}
        blocks.append(inputs.numbers)
    if positions is None:
        return {}
    block = np.concatenate(blocks).T.copy()  # one row per column
    return {name: block[j] for name, j in positions.items()}


def _from_blocks(parts: list[Any], kind: pa.DataType | None) -> pa.Array | None:
    """A numeric column straight from float64 arrays (the server's checked numbers).

    None when a part is not a float64 array, or an integer column holds a fraction: the
    general path then converts value by value.
    """
    if kind is None or not parts:
        return None
    if not all(isinstance(p, np.ndarray) and p.dtype == np.float64 for p in parts):
        return None
    return _from_numbers(np.concatenate(parts), kind)


def _from_numbers(values: np.ndarray, kind: pa.DataType) -> pa.Array | None:
    """A float64 array as a column of type ``kind`` (NaN as null); None when it does not fit."""
    missing = np.isnan(values)
    mask = missing if missing.any() else None
    if pa.types.is_floating(kind):
        return pa.array(values, kind, mask=mask)
    if pa.types.is_integer(kind):
        present = values[~missing]
        if np.all(np.abs(present) < 2**53) and np.all(present == np.floor(present)):
            return pa.array(np.where(missing, 0, values).astype(np.int64), mask=mask).cast(kind)
    return None


def _flat(parts: list[Any], rows: list[int]) -> list[Any]:
    """The values of one column across calls; a part that is None gives nulls."""
    if set(map(type, parts)) != {list}:
        parts = [
            part if type(part) is list else [None] * n if part is None else as_list(part)
            for part, n in zip(parts, rows, strict=True)
        ]
    return list(chain.from_iterable(parts))


def _repeat(calls: Sequence[PredictionCall] | Sequence[FeedbackCall]) -> pa.Array:
    counts = np.fromiter((c.rows for c in calls), dtype=np.int64, count=len(calls))
    return pa.array(np.repeat(np.arange(len(calls), dtype=np.int64), counts))


def _times(calls: Sequence[PredictionCall] | Sequence[FeedbackCall]) -> pa.Array:
    micros = [round(c.time * 1_000_000) for c in calls]
    return pa.array(micros, pa.int64()).cast(TIME_TYPE)


def _ids(values: list[Any]) -> pa.Array:
    if not set(map(type, values)) <= {str}:
        values = [None if v is None else str(v) for v in values]
    return pa.array(values, pa.string())


def _int32(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -_INT32 <= number < _INT32 else None


def _latency(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _flags(flags: Any) -> list[str]:
    if isinstance(flags, str | bytes):
        return [str(flags)]
    try:
        return [str(flag) for flag in flags] if len(flags) else []
    except TypeError:
        return []


def _length(name: str, values: Any) -> int:
    if isinstance(values, str | bytes):
        raise DataError(
            f"{name} must be a sequence with one value per row, not a string",
            fix=f"wrap a single value in a list: {name}=[...]",
        )
    try:
        return len(values)
    except TypeError:
        raise DataError(
            f"{name} must be a sequence with one value per row, not a {type(values).__name__}",
            fix=f"pass {name} as a list or array",
        ) from None


def _same(rows: int, name: str, values: Any) -> None:
    found = _length(name, values)
    if found != rows:
        raise DataError(
            f"{name} has {found} values for {rows} request ids",
            fix="pass one value per row in every column",
        )
