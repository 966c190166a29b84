"""Per-column profiles, computed vectorised and in parallel across columns.

A profile records, for each column, its kind and counts, and by kind: moments, exact
quantiles and a quantile-binned histogram (numbers), value counts (all categories of a
category column, the top values of a text column), true/false counts (booleans),
first/last (timestamps). Values are JSON-safe: non-finite floats are counted separately
and never stored as values.

Quantiles are exact: each numeric column is copied once and sorted, and every order
statistic, bin count and zero count is then read off the sorted values by position or
bisection. Columns are profiled on a thread pool (NumPy and Arrow release the GIL).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["MAX_CATEGORIES", "QUANTILES", "TOP_K", "column_kind", "profile_column", "profile_table"]

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HISTOGRAM_QUANTILES = tuple(i / 10 for i in range(11))
TOP_K = 20
MAX_CATEGORIES = 1000


def profile_table(table: pa.Table, *, threads: int | None = None) -> dict[str, Any]:
    """Profile every column of a normalised table.

    >>> t = pa.table({"age": [30, 40, None, 50], "city": ["Oslo", "Oslo", "Rome", None]})
    >>> p = profile_table(t)
    >>> p["rows"], p["columns"]["age"]["kind"], p["columns"]["age"]["mean"]
    (4, 'integer', 40.0)
    >>> p["columns"]["city"]["top"]
    [['Oslo', 2], ['Rome', 1]]
    """
    workers = threads or min(os.cpu_count() or 1, 8)
    columns = [table.column(name) for name in table.column_names]
    if workers > 1 and len(columns) > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="forgeml-profile") as pool:
            profiles = list(pool.map(profile_column, columns))
    else:
        profiles = [profile_column(c) for c in columns]
    return {"rows": table.num_rows, "columns": dict(zip(table.column_names, profiles, strict=True))}


def profile_column(column: pa.ChunkedArray) -> dict[str, Any]:
    """The profile of one normalised column."""
    count = len(column)
    nulls = column.null_count
    base: dict[str, Any] = {
        "kind": "empty",
        "type": str(column.type),
        "count": count,
        "nulls": nulls,
    }
    kind = column.type
    if pa.types.is_null(kind) or nulls == count:
        return base
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        base["kind"] = "integer" if pa.types.is_integer(kind) else "float"
        base.update(_numeric(column))
    elif pa.types.is_boolean(kind):
        true = int(pc.sum(column).as_py() or 0)
        base.update(kind="boolean", true=true, false=count - nulls - true)
    elif pa.types.is_timestamp(kind):
        bounds = pc.min_max(column)
        base.update(
            kind="timestamp", min=_iso(bounds["min"].as_py()), max=_iso(bounds["max"].as_py())
        )
    else:
        base.update(_strings(column, count - nulls))
    return base


def column_kind(column: pa.ChunkedArray) -> str:
    """integer, float, boolean, timestamp, category, text or empty."""
    return str(profile_column(column)["kind"])


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """The non-null values as one new float64 array (the caller may reorder it), read from
    the Arrow buffers: ``to_numpy`` would make pyarrow import pandas, a second or more of
    CPU the first time."""
    kind = column.type
    prefix = "f" if pa.types.is_floating(kind) else "i" if pa.types.is_signed_integer(kind) else "u"
    dtype = np.dtype(f"{prefix}{kind.bit_width // 8}")
    chunks = column.drop_null().chunks if column.null_count else column.chunks
    parts = [
        np.frombuffer(c.buffers()[1], dtype=dtype, count=len(c), offset=c.offset * dtype.itemsize)
        for c in chunks
        if len(c)
    ]
    if not parts:
        return np.empty(0, dtype=np.float64)
    return np.concatenate(parts, dtype=np.float64, casting="unsafe")


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    values = _numbers(column)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    result: dict[str, Any] = {"inf": int(len(finite) - len(values))}
    n = len(values)
    if not n:
        return result
    # One sort gives every order statistic and every bin count (by bisection); a sort of
    # a million values costs less than partitioning around the twenty-odd positions needed.
    values.sort()
    wanted = sorted(set(QUANTILES + HISTOGRAM_QUANTILES))
    positions = np.asarray(wanted) * (n - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    weight = positions - low
    at = dict(zip(wanted, values[low] * (1 - weight) + values[high] * weight, strict=True))
    edges = np.unique([at[q] for q in HISTOGRAM_QUANTILES])
    if len(edges) > 1:
        # Bins are [e0, e1), ..., [e_k-1, e_k], as numpy.histogram counts them.
        below = np.searchsorted(values, edges[1:-1], side="left")
        counts = np.diff(np.asarray([0, *below.tolist(), n]))
    else:
        counts = np.array([n])
    zeros = np.searchsorted(values, 0.0, side="right") - np.searchsorted(values, 0.0, side="left")
    exact = int if pa.types.is_integer(column.type) else float
    result.update(
        zeros=int(zeros),
        min=_num(exact(values[0])),
        max=_num(exact(values[n - 1])),
        mean=_num(float(values.mean())),
        std=_num(float(values.std(ddof=1))) if n > 1 else 0.0,
        quantiles={str(q): _num(float(at[q])) for q in QUANTILES},
        histogram={"edges": [_num(float(e)) for e in edges], "counts": counts.tolist()},
    )
    return result


def _strings(column: pa.ChunkedArray, present: int) -> dict[str, Any]:
    counts = pc.value_counts(column.drop_null())
    values, freq = counts.field("values"), counts.field("counts")
    distinct = len(values)
    kind = "category" if distinct <= max(20, min(MAX_CATEGORIES, present // 2)) else "text"
    order = pc.sort_indices(
        pa.table({"c": freq, "v": values}), sort_keys=[("c", "descending"), ("v", "ascending")]
    )
    keep = order if kind == "category" else order[:TOP_K]  # every category; top text values
    kept_values = pc.take(values, keep).to_pylist()
    kept_counts = pc.take(freq, keep).to_pylist()
    return {
        "kind": kind,
        "unique": distinct,
        "top": [[v, int(c)] for v, c in zip(kept_values, kept_counts, strict=True)],
        "other": present - int(sum(kept_counts)),
        # Lengths of the distinct values, weighted by their counts: one pass over the
        # dictionary instead of one over every row.
        "mean_length": _num(_total_length(values, freq) / present) if present else None,
    }


def _total_length(values: pa.Array, counts: pa.Array) -> int:
    lengths = pc.utf8_length(values).cast(pa.int64())
    return int(pc.sum(pc.multiply(lengths, counts)).as_py() or 0)


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value  # type: ignore[no-any-return]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()
