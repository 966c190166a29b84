"""Row identity and data time: which rows a model has seen, and how recent its data is.

A row's identity is the hash of its values (numbers compared as numbers, everything else
as text), so the same labelled prediction read back from the log and from a dataset
version is recognised as one row.

>>> import pyarrow as pa
>>> a = pa.table({"x": [1, 2], "y": [True, False]})
>>> b = pa.table({"x": [2.0, 3.0], "y": [False, True]})
>>> [bool(v) for v in new_rows(b, seen=a, columns=["x", "y"])]
[False, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["data_time", "distinct_rows", "new_rows", "row_keys"]


def row_keys(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """One 64-bit identity per row of ``table`` over ``columns``."""
    frame = {}
    for name in columns:
        column = table.column(name)
        kind = column.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
            frame[name] = pd.Series(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
        else:
            frame[name] = pd.Series(column.cast(pa.string()).to_pylist(), dtype=object)
    hashed = pd.util.hash_pandas_object(pd.DataFrame(frame), index=False)
    return np.asarray(hashed, dtype=np.uint64)


def new_rows(table: pa.Table, *, seen: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """A mask of the rows of ``table`` whose identity is not among the rows of ``seen``."""
    if table.num_rows == 0 or seen.num_rows == 0:
        return np.ones(table.num_rows, dtype=bool)
    return ~np.isin(row_keys(table, columns), row_keys(seen, columns))


def distinct_rows(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """``table`` without repeats of a row (by ``columns``), keeping the first."""
    if table.num_rows < 2:
        return table
    _, first = np.unique(row_keys(table, columns), return_index=True)
    return table.take(pa.array(np.sort(first)))


def data_time(table: pa.Table) -> datetime | None:
    """The newest time in ``table``'s timestamp columns (UTC), or None when it has none."""
    newest: datetime | None = None
    for field in table.schema:
        if not pa.types.is_timestamp(field.type) or table.column(field.name).null_count == (
            table.num_rows
        ):
            continue
        value = pc.max(table.column(field.name)).as_py()
        if isinstance(value, datetime):
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            newest = value if newest is None or value > newest else newest
    return newest
