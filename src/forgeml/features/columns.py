"""Input columns: find a column in a table, mapping or records, and coerce it to one form.

Every encoder reads its column through these functions, so a pyarrow Table, a mapping of
arrays or lists, and decoded JSON records give the same values. Numbers and booleans become
float64 arrays with NaN for a missing value; timestamps become wall-clock microseconds.
Lists never pass through pyarrow: its conversions import pandas, and the per-request path
must not pay for that.

>>> as_numbers("age", [30, None, 41.5])
array([30. ,  nan, 41.5])
>>> as_numbers("age", ["30"])
Traceback (most recent call last):
...
forgeml.errors.DataError: column 'age' must hold numbers, but it holds str values such as '30'
  fix: send numbers in 'age' (null for a missing value)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.errors import ConfigError, DataError

__all__ = [
    "as_booleans",
    "as_numbers",
    "as_strings",
    "as_timestamps",
    "column_names",
    "read_column",
    "records_to_columns",
    "row_count",
    "zone",
]

ARROW = (pa.Array, pa.ChunkedArray)
NUMBERS = "numbers"
BOOLEANS = "booleans (true or false)"
STRINGS = "strings"
TIMESTAMPS = "timestamps (ISO 8601 strings or datetimes)"

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_ACCEPTED = "a pyarrow Table or RecordBatch, or a mapping of column name to array or list"


def column_names(data: Any) -> Collection[str]:
    """The column names ``data`` offers; an unsupported container is a :class:`DataError`."""
    if isinstance(data, pa.Table | pa.RecordBatch):
        return set(data.schema.names)
    if isinstance(data, Mapping):
        return data.keys()
    raise DataError(
        f"feature input must be {_ACCEPTED}, not {type(data).__name__}",
        fix="convert the data first, e.g. pyarrow.Table.from_pandas(frame) for a DataFrame",
    )


def read_column(data: Any, name: str) -> Any:
    """The raw values of column ``name`` (checked by :func:`column_names` first)."""
    if isinstance(data, pa.Table | pa.RecordBatch):
        return data.column(name)
    return data[name]


def row_count(data: Any, names: Sequence[str]) -> int:
    """The number of rows, after checking that every column in ``names`` has that many."""
    if isinstance(data, pa.Table | pa.RecordBatch):
        return int(data.num_rows)
    lengths = {name: _length(name, data[name]) for name in names}
    if not lengths:
        return _length("", next(iter(data.values()))) if data else 0
    counts = sorted(set(lengths.values()))
    if len(counts) > 1:
        shown = ", ".join(f"'{name}' has {n}" for name, n in list(lengths.items())[:6])
        raise DataError(
            f"input columns have different lengths: {shown}",
            fix="pass columns of equal length, one value per row",
        )
    return counts[0]


def records_to_columns(records: Any, names: Sequence[str]) -> dict[str, list[Any]]:
    """Column lists from records (one mapping per row), each record holding every name.

    >>> records_to_columns([{"a": 1, "b": "x"}, {"a": None, "b": "y", "extra": 0}], ["a", "b"])
    {'a': [1, None], 'b': ['x', 'y']}
    """
    if isinstance(records, str | bytes | Mapping) or not isinstance(records, Sequence):
        raise DataError(
            f"records must be a list of objects, one per row, not {type(records).__name__}",
            fix='send a JSON array of objects, e.g. [{"age": 30, "plan": "basic"}]',
        )
    try:
        return {name: [record[name] for record in records] for name in names}
    except (KeyError, TypeError, IndexError):
        _explain_records(records, names)
        raise


def as_numbers(name: str, values: Any) -> np.ndarray:
    """float64 values of a numeric column; NaN where a value is missing."""
    if isinstance(values, ARROW):
        kind = _decoded(values).type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            return _arrow_floats(_decoded(values))
        if pa.types.is_null(kind):
            return np.full(len(values), np.nan)
        raise _wrong_type(name, NUMBERS, f"{kind} values")
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        return _one_dimensional(name, values).astype(np.float64, copy=False)
    items = _sequence(name, values, NUMBERS)
    _check_types(name, items, NUMBERS, _is_number)
    try:
        return np.array(items, dtype=np.float64).reshape(-1)
    except OverflowError:
        raise DataError(
            f"column '{name}' holds an integer too large for a 64-bit float",
            fix=f"scale or clip the values of '{name}'",
        ) from None


def as_booleans(name: str, values: Any) -> np.ndarray:
    """0.0/1.0 values of a boolean column; NaN where a value is missing."""
    if isinstance(values, ARROW):
        kind = _decoded(values).type
        if pa.types.is_boolean(kind):
            return _arrow_floats(_decoded(values))
        if pa.types.is_null(kind):
            return np.full(len(values), np.nan)
        raise _wrong_type(name, BOOLEANS, f"{kind} values")
    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return _one_dimensional(name, values).astype(np.float64)
    items = _sequence(name, values, BOOLEANS)
    _check_types(name, items, BOOLEANS, _is_boolean)
    return np.array(items, dtype=np.float64).reshape(-1)


def as_strings(name: str, values: Any) -> pa.Array | pa.ChunkedArray | list[str | None]:
    """A string column: Arrow input stays Arrow (large_string), anything else a list."""
    if isinstance(values, ARROW):
        values = _decoded(values)
        kind = values.type
        if pa.types.is_large_string(kind):
            return values
        if pa.types.is_string(kind) or _is_string_view(kind) or pa.types.is_null(kind):
            return values.cast(pa.large_string())
        raise _wrong_type(name, STRINGS, f"{kind} values")
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        return list(_one_dimensional(name, values).tolist())
    items = _sequence(name, values, STRINGS)
    _check_types(name, items, STRINGS, _is_string)
    return list(items)


def as_timestamps(name: str, values: Any, timezone: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock microseconds since 1970 (int64) and a missing-value mask.

    Values without a timezone are taken as they are; values with one are converted to
    ``timezone`` (UTC when the column has none) first.

    >>> micros, missing = as_timestamps("t", ["2024-01-05T10:00:00+02:00", None], "UTC")
    >>> datetime(1970, 1, 1) + timedelta(microseconds=int(micros[0])), missing.tolist()
    (datetime.datetime(2024, 1, 5, 8, 0), [False, True])
    """
    if isinstance(values, ARROW):
        values = _decoded(values)
        kind = values.type
        if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_null(kind):
            return _arrow_wall_micros(values, timezone)
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise _wrong_type(name, TIMESTAMPS, f"{kind} values")
        values = values.to_pylist()
    elif isinstance(values, np.ndarray) and values.dtype.kind == "M":
        stamps = _one_dimensional(name, values).astype("datetime64[us]")
        missing = np.isnat(stamps)
        return np.where(missing, 0, stamps.view(np.int64)), missing
    items = _sequence(name, values, TIMESTAMPS)
    where = zone(timezone)
    micros = [_wall_micros(name, value, where) for value in items]
    missing = np.array([m is None for m in micros], dtype=bool)
    return np.array([m or 0 for m in micros], dtype=np.int64), missing


def zone(name: str | None) -> tzinfo:
    """The tzinfo for an Arrow timezone name (IANA name or fixed offset); None means UTC.

    >>> zone("+02:00"), zone("Europe/Oslo")
    (datetime.timezone(datetime.timedelta(seconds=7200)), zoneinfo.ZoneInfo(key='Europe/Oslo'))
    """
    if name is None:
        return UTC
    offset = _OFFSET.match(name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3))))
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ConfigError(
            f"timezone '{name}' is unknown",
            fix="use an IANA timezone name such as 'Europe/Oslo', or an offset such as '+02:00'",
        ) from None


def _arrow_floats(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    floats = values.cast(pa.float64(), safe=False)
    return np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)


def _arrow_wall_micros(
    values: pa.Array | pa.ChunkedArray, timezone: str | None
) -> tuple[np.ndarray, np.ndarray]:
    kind = values.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        values = pc.local_timestamp(values.cast(pa.timestamp("us", tz=timezone or "UTC")))
    micros = values.cast(pa.timestamp("us"), safe=False).cast(pa.int64())
    missing = np.asarray(pc.is_null(micros).to_numpy(zero_copy_only=False), dtype=bool)
    filled = pc.fill_null(micros, 0).to_numpy(zero_copy_only=False)
    return np.asarray(filled, dtype=np.int64), missing


def _wall_micros(name: str, value: Any, where: tzinfo) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise DataError(
                f"column '{name}' holds {value[:40]!r}, which is not an ISO 8601 timestamp",
                fix=f"send '{name}' as e.g. '2024-01-05T10:30:00' or '2024-01-05T10:30:00+01:00'",
            ) from None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return int(value.astype("datetime64[us]").astype(np.int64).item())
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(where).replace(tzinfo=None)
        return int((value.replace(tzinfo=None) - _EPOCH) // _MICROSECOND)
    if isinstance(value, date):
        return (datetime.combine(value, time()) - _EPOCH) // _MICROSECOND
    raise _wrong_type(name, TIMESTAMPS, f"{type(value).__name__} values such as {value!r:.40}")


def _decoded(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)
    return values


def _is_string_view(kind: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _t: False)(kind))


def _one_dimensional(name: str, values: np.ndarray) -> np.ndarray:
    if values.ndim != 1:
        raise DataError(
            f"column '{name}' is a {values.ndim}-dimensional array",
            fix=f"pass '{name}' as a one-dimensional array, one value per row",
        )
    return values


def _sequence(name: str, values: Any, expected: str) -> Sequence[Any] | np.ndarray:
    if isinstance(values, np.ndarray):
        if values.dtype.kind != "O":
            raise _wrong_type(name, expected, f"numpy {values.dtype} values")
        return _one_dimensional(name, values)
    if isinstance(values, list | tuple):
        return values
    raise DataError(
        f"column '{name}' is a {type(values).__name__}, not an array or list",
        fix=f"pass '{name}' as a list, numpy array or pyarrow array, one value per row",
    )


def _check_types(
    name: str, items: Sequence[Any] | np.ndarray, expected: str, accepts: Callable[[type], bool]
) -> None:
    # One check per distinct Python type, not per value.
    bad = [kind for kind in set(map(type, items)) if not accepts(kind)]
    if bad:
        example = next(v for v in items if type(v) in bad)
        raise _wrong_type(
            name, expected, f"{type(example).__name__} values such as {example!r:.40}"
        )


def _is_number(kind: type) -> bool:
    if issubclass(kind, bool | np.bool_):
        return False
    return kind is type(None) or issubclass(kind, int | float | np.integer | np.floating)


def _is_boolean(kind: type) -> bool:
    return kind is type(None) or issubclass(kind, bool | np.bool_)


def _is_string(kind: type) -> bool:
    return kind is type(None) or issubclass(kind, str)


def _wrong_type(name: str, expected: str, found: str) -> DataError:
    return DataError(
        f"column '{name}' must hold {expected}, but it holds {found}",
        fix=f"send {expected} in '{name}' (null for a missing value)",
    )


def _length(name: str, values: Any) -> int:
    if isinstance(values, np.ndarray):
        return len(_one_dimensional(name, values))
    try:
        return len(values)
    except TypeError:
        raise DataError(
            f"column '{name}' is a {type(values).__name__}, not an array or list",
            fix=f"pass '{name}' as a list, numpy array or pyarrow array, one value per row",
        ) from None


def _explain_records(records: Sequence[Any], names: Sequence[str]) -> None:
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise DataError(
                f"record {i} is a {type(record).__name__}, not an object",
                fix="send each row as a JSON object of column name to value",
            )
        absent = [name for name in names if name not in record]
        if absent:
            raise DataError(
                f"record {i} has no field {', '.join(repr(n) for n in absent[:5])}",
                fix="send every input column in each record (null for a missing value); "
                f"the pipeline reads: {', '.join(names)}",
            )
