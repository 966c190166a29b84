"""Typed values from file columns for batch scoring, with a per-row mask of what failed.

CSV files hold text, so numbers, booleans and timestamps are parsed here, column by column
and vectorised: a value that does not parse marks its row as bad instead of failing the
chunk. Missing-value markers are the ones Arrow (and so ``forgeml ingest``) reads as null.
Timestamps accept what the HTTP server accepts (:meth:`datetime.fromisoformat`): common
ISO 8601 shapes are parsed by Arrow, any other string row by row in Python.

>>> values, bad = parse_numbers(pa.array(["1.5", " 2 ", "abc", None]))
>>> values.to_pylist(), bad.tolist()
([1.5, 2.0, None, None], [False, False, True, False])
>>> stamps, bad = parse_timestamps(pa.array(["2024-01-05T10:00:00+02:00", "soon"]), "UTC")
>>> stamps.to_pylist()[0], bad.tolist()
(datetime.datetime(2024, 1, 5, 8, 0), [False, True])
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.features.columns import zone

__all__ = [
    "as_text",
    "is_text",
    "mask",
    "parse_booleans",
    "parse_numbers",
    "parse_timestamps",
    "text_nulls",
    "type_word",
]

# Arrow's default CSV null markers: the values ingest read as missing.
NULL_TEXTS = pa.array(
    [
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "n/a",
        "nan",
        "null",
    ]
)
TRUE_TEXTS = pa.array(["1", "True", "TRUE", "true"])
FALSE_TEXTS = pa.array(["0", "False", "FALSE", "false"])
_NUMBER = r"^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|(?i:inf|infinity))$"
_DAY = r"^\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}(?::\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
_NAIVE = rf"{_DAY}(?:{_TIME})?$"
_AWARE = rf"{_DAY}{_TIME}(?:Z|[+-]\d{{2}}(?::?\d{{2}})?)$"
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_STAMP = pa.timestamp("us")


def is_text(kind: pa.DataType) -> bool:
    """Whether a column of this Arrow type holds strings."""
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or getattr(pa.types, "is_string_view", lambda _t: False)(kind)
    )


def type_word(kind: pa.DataType) -> str:
    """The name of an Arrow type in the words the HTTP server's problems use.

    >>> type_word(pa.int32()), type_word(pa.large_string()), type_word(pa.list_(pa.int8()))
    ('number', 'string', 'list<item: int8>')
    """
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "number"
    if is_text(kind):
        return "string"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "timestamp"
    return str(kind)


def mask(values: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a NumPy mask, null counting as False."""
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def text_nulls(values: pa.Array) -> pa.Array:
    """String values with the CSV missing-value markers ("", "NA", "null", ...) as null."""
    return pc.if_else(pc.is_in(values, value_set=NULL_TEXTS), pa.scalar(None, values.type), values)


def parse_numbers(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """float64 values of number strings; ``bad`` marks non-null strings that are not one."""
    trimmed = pc.utf8_trim_whitespace(values)
    ok = pc.match_substring_regex(trimmed, _NUMBER)
    candidates = pc.if_else(ok, trimmed, pa.scalar(None, trimmed.type))
    try:
        numbers = candidates.cast(pa.float64())
    except pa.ArrowInvalid:  # a value the pattern lets through but Arrow cannot read
        numbers = pa.array([_float(v) for v in candidates.to_pylist()], type=pa.float64())
    return numbers, mask(pc.is_valid(trimmed)) & ~mask(pc.is_valid(numbers))


def parse_booleans(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Booleans of true/false strings (also True, TRUE, 1 and their opposites)."""
    trimmed = pc.utf8_trim_whitespace(values)
    truthy = pc.is_in(trimmed, value_set=TRUE_TEXTS)
    falsy = pc.is_in(trimmed, value_set=FALSE_TEXTS)
    known = pc.or_(truthy, falsy)
    out = pc.if_else(known, truthy, pa.scalar(None, pa.bool_()))
    return out, mask(pc.is_valid(trimmed)) & ~mask(known)


def parse_timestamps(values: pa.Array, timezone: str | None) -> tuple[pa.Array, np.ndarray]:
    """Wall-clock timestamps (no timezone) of ISO 8601 strings; ``bad`` marks the others.

    A string with an offset is converted to ``timezone`` (UTC when None) first, which is
    what the model's timestamp encoder does with such a value.
    """
    trimmed = pc.utf8_trim_whitespace(values)
    valid = mask(pc.is_valid(trimmed))
    micros = np.zeros(len(trimmed), dtype=np.int64)
    parsed = np.zeros(len(trimmed), dtype=bool)
    try:
        for pattern, kind in ((_NAIVE, _STAMP), (_AWARE, pa.timestamp("us", tz="UTC"))):
            matched = mask(pc.match_substring_regex(trimmed, pattern))
            if not matched.any():
                continue
            subset = trimmed.filter(pa.array(matched)).cast(kind)
            if kind.tz is not None:
                local = subset.cast(pa.timestamp("us", tz=timezone or "UTC"))
                subset = pc.local_timestamp(local)
            micros[matched] = subset.cast(_STAMP).cast(pa.int64()).to_numpy()
            parsed |= matched
    except pa.ArrowInvalid:  # e.g. an impossible date: let Python decide row by row
        parsed[:] = False
    bad = np.zeros(len(trimmed), dtype=bool)
    rest = np.flatnonzero(valid & ~parsed)
    if len(rest):
        where = zone(timezone)
        for i, text in zip(rest.tolist(), trimmed.take(rest).to_pylist(), strict=True):
            value = _wall_micros(text, where)
            if value is None:
                bad[i] = True
            else:
                micros[i] = value
    return pa.array(micros, type=_STAMP, mask=~valid | bad), bad


def as_text(values: pa.Array) -> pa.Array:
    """Values as strings, for the rejects file (null stays null)."""
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def _wall_micros(text: str, where: tzinfo) -> int | None:
    """What the timestamp encoder makes of one string; None where it is no timestamp."""
    try:
        value = datetime.fromisoformat(text)
        if value.utcoffset() is not None:
            value = value.astimezone(where).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return int((value - _EPOCH) // _MICROSECOND)


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None
