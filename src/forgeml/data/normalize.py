"""Normalise a table to forgeml's canonical column types.

The same data must give the same table (and content hash) whether it came from CSV,
Parquet, pandas or polars, so widths are unified (int64, float64, large_string,
timestamp[us]), NaN becomes null, and dictionaries are decoded.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.errors import SourceError

__all__ = ["check_names", "normalize"]


def normalize(table: pa.Table) -> pa.Table:
    """Canonical form of ``table``; raises :class:`SourceError` for unusable columns.

    >>> t = pa.table({"a": pa.array([1, 2], pa.int8()), "b": [1.5, float("nan")]})
    >>> normalize(t).schema
    a: int64
    b: double
    >>> normalize(t).column("b").null_count
    1
    """
    names = check_names(table.column_names)
    columns = [_normalize_column(name, table.column(i)) for i, name in enumerate(names)]
    return pa.table(columns, names=names)


def check_names(raw: list[str]) -> list[str]:
    """NFC-normalised column names; blank or repeated names are refused with their positions."""
    names = [unicodedata.normalize("NFC", str(n)) for n in raw]
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise SourceError(
            f"column(s) at position {', '.join(map(str, blank))} have no name",
            fix="give every column a header name (an unnamed first column is often an index "
            "that was written by mistake: drop it)",
        )
    duplicated = [n for n, count in Counter(names).items() if count > 1]
    if duplicated:
        where = {n: [i + 1 for i, m in enumerate(names) if m == n] for n in duplicated[:5]}
        shown = "; ".join(f"'{n}' at positions {', '.join(map(str, p))}" for n, p in where.items())
        raise SourceError(
            f"{len(duplicated)} column name(s) appear more than once: {shown}",
            fix="rename the columns so that every name is unique",
        )
    return names


def _normalize_column(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_integer(kind):
        if kind == pa.uint64() and len(column) and pc.max(column).as_py() > 2**63 - 1:
            return column.cast(pa.float64())
        return column.cast(pa.int64())
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        column = column.cast(pa.float64())
        nan = pc.is_nan(column)
        if not pc.any(nan).as_py():
            return column
        return pc.if_else(nan, pa.nulls(len(column), pa.float64()), column)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or _is_string_view(kind):
        return column.cast(pa.large_string())
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("us", tz=kind.tz))
    if pa.types.is_date(kind):
        return column.cast(pa.timestamp("us"))
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return column
    raise SourceError(
        f"column '{name}' has type {kind}, which forgeml does not ingest",
        fix="flatten lists/structs and decode binary values into numbers, text or timestamps",
    )


def _is_string_view(kind: pa.DataType) -> bool:
    return bool(getattr(pa.types, "is_string_view", lambda _t: False)(kind))
