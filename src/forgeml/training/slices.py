"""Metrics per slice (each value of a declared column), flagged when well below the whole.

A slice is flagged when its metric is more than 10% worse than on all rows (relative),
and it has enough rows to judge.

>>> import numpy as np
>>> region = np.array(["n"] * 50 + ["s"] * 50)
>>> score = lambda idx: {"accuracy": 0.9 if idx[0] < 50 else 0.6, "rows": len(idx)}
>>> found = slice_metrics({"region": region}, score)
>>> flagged(found, {"accuracy": 0.75}, "accuracy", min_rows=30)
[('region', 's', 0.6)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.training.metrics import HIGHER_IS_BETTER

__all__ = ["MAX_SLICE_VALUES", "flagged", "slice_metrics"]

MAX_SLICE_VALUES = 50
RELATIVE_SHORTFALL = 0.10


def slice_metrics(
    columns: Mapping[str, np.ndarray], score: Callable[[np.ndarray], dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``score(row_indices)`` for every value of every slice column (most frequent first)."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for name, values in columns.items():
        text = pc.cast(pa.array(values, from_pandas=True), pa.large_string())
        keys = pc.fill_null(text, "(missing)").to_numpy(zero_copy_only=False)
        uniques, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:MAX_SLICE_VALUES]
        result[name] = {str(uniques[i]): score(np.flatnonzero(inverse == i)) for i in order}
    return result


def flagged(
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]],
    overall: Mapping[str, Any],
    metric: str,
    *,
    min_rows: int,
) -> list[tuple[str, str, float]]:
    """(column, value, metric) of slices more than 10% worse than the whole."""
    whole = overall.get(metric)
    if not isinstance(whole, int | float) or not np.isfinite(whole):
        return []
    higher = HIGHER_IS_BETTER.get(metric, True)
    found = []
    for column, values in slices.items():
        for value, m in values.items():
            v = m.get(metric)
            if (
                (m.get("rows") or 0) < min_rows
                or not isinstance(v, int | float)
                or not np.isfinite(v)
            ):
                continue
            worse = (
                v < whole * (1 - RELATIVE_SHORTFALL)
                if higher
                else v > whole * (1 + RELATIVE_SHORTFALL)
            )
            if worse:
                found.append((column, value, float(v)))
    return found
