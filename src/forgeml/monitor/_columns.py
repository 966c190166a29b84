"""Column-at-a-time access to the data being profiled, and each column's kind.

A source is an Arrow table or a ``pyarrow.dataset.Dataset`` (for example a folder of
Parquet files): a dataset is read one column at a time, so profiling it never holds more
than one column in memory. Columns are found by their signature name: a prediction-log
column whose field metadata names the input (``forgeml.input``, as the log stores an input
called ``score`` under ``input.score``) wins over a column that only has the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from forgeml.errors import DataError

__all__ = [
    "CATEGORY_KINDS",
    "INPUT_KEY",
    "KINDS",
    "NUMERIC_KINDS",
    "ColumnSpec",
    "Source",
    "arrow_kind",
    "column_specs",
    "numbers",
    "strings",
]

KINDS = ("integer", "float", "boolean", "timestamp", "category", "text", "empty")
NUMERIC_KINDS = frozenset({"integer", "float", "timestamp"})
CATEGORY_KINDS = frozenset({"boolean", "category", "text", "empty"})
INPUT_KEY = b"forgeml.input"  # field metadata of prediction-log inputs: the signature name
_MICROS = 1_000_000

ColumnSpec = tuple[str, str]  # (signature name, kind)


class Source:
    """A table or dataset, read one column at a time by signature name."""

    def __init__(self, data: pa.Table | pads.Dataset | pa.RecordBatch) -> None:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            self._table: pa.Table = data
            self._dataset: pads.Dataset | None = None
            self.rows = data.num_rows
        elif isinstance(data, pads.Dataset):
            self._table, self._dataset = data.schema.empty_table(), data
            self.rows = data.count_rows()
        else:
            raise DataError(
                f"cannot profile a {type(data).__name__}",
                fix="pass a pyarrow.Table or a pyarrow.dataset.Dataset "
                "(pyarrow.Table.from_pandas converts a DataFrame)",
            )
        self.schema: pa.Schema = data.schema
        self._stored: dict[str, str] = {name: name for name in self.schema.names}
        for field in self.schema:  # metadata names override plain names
            name = (field.metadata or {}).get(INPUT_KEY)
            if name is not None:
                self._stored[name.decode()] = field.name

    def has(self, name: str) -> bool:
        """Whether the source has the column ``name`` (by signature name)."""
        return name in self._stored

    def type(self, name: str) -> pa.DataType:
        """The Arrow type of column ``name``."""
        return self.schema.field(self._stored[name]).type

    def column(self, name: str, *, raw: bool = False) -> pa.ChunkedArray:
        """Column ``name``; ``raw`` takes the field called ``name`` even if an input is."""
        stored = name if raw else self._stored[name]
        if self._dataset is not None:
            return self._dataset.to_table(columns=[stored]).column(0)
        return self._table.column(stored)


def column_specs(
    source: Source, columns: Sequence[Mapping[str, Any] | str] | None
) -> list[ColumnSpec]:
    """(name, kind) per column: kinds from signature dicts, else from the Arrow types.

    >>> source = Source(pa.table({"a": [1], "b": ["x"]}))
    >>> column_specs(source, [{"name": "a", "kind": "float"}, "b"])
    [('a', 'float'), ('b', 'category')]
    """
    if columns is None:
        columns = list(source.schema.names)
    if isinstance(columns, str | bytes | Mapping) or not isinstance(columns, Sequence):
        raise DataError(
            f"columns must be a list of column descriptions, not {type(columns).__name__}",
            fix="pass the model version's signature['inputs'] (or a list of column names)",
        )
    specs: list[ColumnSpec] = []
    for position, spec in enumerate(columns):
        name = spec if isinstance(spec, str) else spec.get("name")
        if not isinstance(name, str) or not name:
            raise DataError(
                f"column {position} has no name",
                fix="describe each column as a dict with a 'name' (and a 'kind') key",
            )
        if not source.has(name):
            raise DataError(
                f"the reference data has no column '{name}'",
                fix=f"choose from: {', '.join(source.schema.names)}",
            )
        kind = None if isinstance(spec, str) else spec.get("kind")
        if kind not in KINDS:
            kind = arrow_kind(source.type(name))
        if kind is None:
            raise DataError(
                f"column '{name}' has type {source.type(name)}, which cannot be profiled",
                fix="pass numbers, booleans, timestamps or strings, or leave the column out",
            )
        specs.append((name, str(kind)))
    if len({name for name, _ in specs}) != len(specs):
        raise DataError("a column is listed twice", fix="list each column once")
    return specs


def arrow_kind(kind: pa.DataType) -> str | None:
    """The profile kind an Arrow type holds, or None when it holds none.

    >>> [arrow_kind(t) for t in (pa.int8(), pa.date32(), pa.dictionary(pa.int8(), pa.utf8()))]
    ['integer', 'timestamp', 'category']
    """
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "float"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return "timestamp"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return "category"
    if pa.types.is_null(kind):
        return "empty"
    return None


def numbers(column: pa.ChunkedArray) -> np.ndarray | None:
    """Float64 values with NaN for nulls (timestamps in seconds since 1970), or None when
    the column's type holds no numbers.

    >>> numbers(pa.chunked_array([[1, None, 3]])).tolist()
    [1.0, nan, 3.0]
    """
    kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan)
    if pa.types.is_date(kind):
        column, kind = column.cast(pa.timestamp("us")), pa.timestamp("us")
    if pa.types.is_timestamp(kind):
        micros = column.cast(pa.timestamp("us", kind.tz)).cast(pa.int64())
        return np.asarray(micros.to_numpy(), dtype=np.float64) / _MICROS
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.asarray(column.cast(pa.float64(), safe=False).to_numpy(), dtype=np.float64)
    return None


def strings(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as strings (dictionary-encoded strings kept as they are), or None."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return column
        column = column.cast(kind)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return column
    try:
        return column.cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
