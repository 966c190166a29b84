"""Values to Arrow for the prediction log: a value that does not fit its column becomes null.

The server has validated requests before they are logged, so a value that still does not
fit is stored as null rather than failing a whole batch: these conversions never raise.
Labels are stored as compact JSON text, so ``1``, ``"1"`` and ``true`` stay distinct and
any label type round-trips; whole floats are stored as integers so that ``1.0`` and ``1``
match.

>>> to_arrow([1, 2.5, float("nan"), "x", True, None], pa.float64()).to_pylist()
[1.0, 2.5, None, None, None, None]
>>> encode_labels([1, 1.0, "yes", True, None, float("inf")])
['1', '1', '"yes"', 'true', None, None]
>>> decode_labels(pa.array(['1', '"yes"', None]))
[1, 'yes', None]
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.features.columns import zone

__all__ = ["as_list", "decode_labels", "encode_label", "encode_labels", "finite", "to_arrow"]

_INT64 = 2**63


def as_list(values: Any) -> list[Any]:
    """Plain Python values of one column of a request (list, tuple, NumPy or Arrow array)."""
    if isinstance(values, list):
        return values
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":
            values = values.astype("datetime64[us]")
        return list(values.reshape(-1).tolist())
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return list(values.to_pylist())
    return list(values)


def finite(values: list[Any]) -> pa.Array:
    """float64 values; anything that is not a finite number becomes null."""
    try:
        array = np.asarray(values, dtype=np.float64).reshape(-1)
        if array.shape != (len(values),):
            raise ValueError("not one value per row")
    except (TypeError, ValueError, OverflowError):
        array = np.array([_float(v) for v in values], dtype=np.float64)
    return pa.array(array, pa.float64(), mask=~np.isfinite(array))


def to_arrow(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """``values`` as an Arrow array of type ``kind`` (inferred when None), null where a
    value does not fit."""
    if kind is None:
        return _inferred(values)
    if pa.types.is_null(kind):
        return pa.nulls(len(values))
    if pa.types.is_timestamp(kind):
        values = [_timestamp(v, kind.tz) for v in values]
    elif str(kind) in _RULES:
        coerce, accepted = _RULES[str(kind)]
        if not set(map(type, values)) <= accepted:  # exact types: bool is not a number here
            values = [_guarded(coerce, v) for v in values]
    try:
        array = pa.array(values, kind)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = pa.array([_one(v, kind) for v in values], kind)
    if pa.types.is_floating(kind) and array.null_count < len(array):
        nan = np.isnan(array.to_numpy(zero_copy_only=False))
        if nan.any():
            array = pa.array(array.to_numpy(zero_copy_only=False), kind, mask=nan)
    return array


def encode_label(value: Any) -> str | None:
    """A label as JSON text; None for a missing or non-finite label.

    >>> encode_label("late payer"), encode_label(2), encode_label(0.25)
    ('"late payer"', '2', '0.25')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer() and abs(value) < 2**53:
            value = int(value)
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
        )
    except (TypeError, ValueError):
        return json.dumps(str(value), ensure_ascii=False)


def encode_labels(values: list[Any]) -> list[str | None]:
    """:func:`encode_label` of each value, encoding each distinct class once."""
    memo: dict[tuple[type, Hashable], str | None] = {}
    encoded: list[str | None] = []
    for value in values:
        if isinstance(value, Hashable):
            key = (type(value), value)
            if key not in memo:
                memo[key] = encode_label(value)
            encoded.append(memo[key])
        else:
            encoded.append(encode_label(value))
    return encoded


def decode_labels(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The Python values of a ``label`` or ``true_label`` column (JSON text)."""
    return [None if text is None else json.loads(text) for text in column.to_pylist()]


def _float(value: Any) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return math.nan
    try:
        return float(value)
    except (OverflowError, ValueError):
        return math.nan


def _integer(value: Any) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, float | np.floating):
        if not math.isfinite(value) or not float(value).is_integer():
            return None
        value = int(value)
    if isinstance(value, int | np.integer) and -_INT64 <= int(value) < _INT64:
        return int(value)
    return None


def _boolean(value: Any) -> bool | None:
    return bool(value) if isinstance(value, bool | np.bool_) else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    number = _float(value)
    return None if math.isnan(number) else number


_Rule = tuple[Callable[[Any], Any], frozenset[type]]
_NONE = type(None)
# Per column type: the conversion of one value, and the exact Python types Arrow may take
# as they are (anything else goes through the conversion first).
_RULES: dict[str, _Rule] = {
    "double": (_number, frozenset({_NONE, float, int})),
    "int64": (_integer, frozenset({_NONE, int})),
    "bool": (_boolean, frozenset({_NONE, bool})),
    "large_string": (_string, frozenset({_NONE, str})),
}


def _timestamp(value: Any, tz: str | None) -> datetime | None:
    """A datetime the column can hold: naive values are wall-clock time in the column's
    timezone, aware ones are converted (to UTC wall-clock time for a column without one)."""
    try:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(value, np.datetime64):
            value = value.astype("datetime64[us]").item()
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, clock())
        if not isinstance(value, datetime):
            return None
        aware = value.utcoffset() is not None
        if tz is None:
            return value.astimezone(UTC).replace(tzinfo=None) if aware else value
        return value if aware else value.replace(tzinfo=zone(tz))
    except Exception:  # pandas' NaT, out-of-range dates, odd subclasses: all stored as null
        return None


def _guarded(coerce: Callable[[Any], Any], value: Any) -> Any:
    try:
        return coerce(value)
    except Exception:
        return None


def _one(value: Any, kind: pa.DataType) -> Any:
    try:
        pa.array([value], kind)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None
    return value


def _inferred(values: list[Any]) -> pa.Array:
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.array(encode_labels(values), pa.large_string())
    if pa.types.is_string(array.type):
        return array.cast(pa.large_string())
    if pa.types.is_nested(array.type) or pa.types.is_binary(array.type):
        return pa.array(encode_labels(values), pa.large_string())
    return array
