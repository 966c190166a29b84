"""Per-column profiles, computed vectorised with Arrow compute kernels.

A profile records, for each column, its kind and counts, and by kind: moments, quantiles
and a quantile-binned histogram (numbers), top values (categories, text), true/false
counts (booleans), first/last (timestamps). Values are JSON-safe: non-finite floats are
counted separately and never stored as values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["QUANTILES", "TOP_K", "profile_column", "profile_table"]

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HISTOGRAM_QUANTILES = tuple(i / 10 for i in range(11))
TOP_K = 20
MAX_CATEGORIES = 1000


def profile_table(table: pa.Table) -> dict[str, Any]:
    """Profile every column of a normalised table.

    >>> t = pa.table({"age": [30, 40, None, 50], "city": ["Oslo", "Oslo", "Rome", None]})
    >>> p = profile_table(t)
    >>> p["rows"], p["columns"]["age"]["kind"], p["columns"]["age"]["mean"]
    (4, 'integer', 40.0)
    >>> p["columns"]["city"]["top"]
    [['Oslo', 2], ['Rome', 1]]
    """
    return {
        "rows": table.num_rows,
        "columns": {name: profile_column(table.column(name)) for name in table.column_names},
    }


def profile_column(column: pa.ChunkedArray) -> dict[str, Any]:
    kind = column_kind(column)
    count = len(column)
    nulls = column.null_count
    base: dict[str, Any] = {"kind": kind, "type": str(column.type), "count": count, "nulls": nulls}
    if kind in ("integer", "float"):
        base.update(_numeric(column))
    elif kind == "boolean":
        true = int(pc.sum(column).as_py() or 0)
        base.update(true=true, false=count - nulls - true)
    elif kind == "timestamp":
        bounds = pc.min_max(column)
        base.update(min=_iso(bounds["min"].as_py()), max=_iso(bounds["max"].as_py()))
    elif kind in ("category", "text"):
        base.update(_strings(column))
    return base


def column_kind(column: pa.ChunkedArray) -> str:
    """integer, float, boolean, timestamp, category, text or empty."""
    kind = column.type
    if pa.types.is_null(kind) or column.null_count == len(column):
        return "empty"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    distinct = pc.count_distinct(column).as_py()
    present = len(column) - column.null_count
    limit = max(20, min(MAX_CATEGORIES, present // 2))
    return "category" if distinct <= limit else "text"


def _numeric(column: pa.ChunkedArray) -> dict[str, Any]:
    values = column.cast(pa.float64())
    finite_mask = pc.is_finite(values)
    infinite = (
        int(pc.sum(pc.invert(finite_mask)).as_py() or 0) if values.null_count < len(values) else 0
    )
    finite = pc.filter(values, finite_mask)
    if len(finite) == 0:
        return {"inf": infinite}
    bounds = pc.min_max(finite)
    digest = pc.tdigest(finite, q=list(QUANTILES)).to_pylist()
    array = finite.to_numpy()
    edges = np.unique(np.quantile(array, HISTOGRAM_QUANTILES))
    counts, _ = np.histogram(array, bins=edges if len(edges) > 1 else 1)
    return {
        "inf": infinite,
        "zeros": int(np.count_nonzero(array == 0)),
        "min": _num(bounds["min"].as_py()),
        "max": _num(bounds["max"].as_py()),
        "mean": _num(float(np.mean(array))),
        "std": _num(float(np.std(array, ddof=1))) if len(array) > 1 else 0.0,
        "quantiles": {str(q): _num(v) for q, v in zip(QUANTILES, digest, strict=True)},
        "histogram": {"edges": [_num(e) for e in edges.tolist()], "counts": counts.tolist()},
    }


def _strings(column: pa.ChunkedArray) -> dict[str, Any]:
    counts = pc.value_counts(column.drop_null())
    values, freq = counts.field("values"), counts.field("counts")
    order = pc.sort_indices(
        pa.table({"c": freq, "v": values}), sort_keys=[("c", "descending"), ("v", "ascending")]
    )
    top = order[:TOP_K]
    top_values = pc.take(values, top).to_pylist()
    top_counts = pc.take(freq, top).to_pylist()
    lengths = pc.utf8_length(column)
    return {
        "unique": len(values),
        "top": [[v, int(c)] for v, c in zip(top_values, top_counts, strict=True)],
        "other": int(pc.sum(freq).as_py() or 0) - int(sum(top_counts)),
        "mean_length": _num(pc.mean(lengths).as_py()),
    }


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value  # type: ignore[no-any-return]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()
