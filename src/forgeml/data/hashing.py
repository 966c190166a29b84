"""Content hash of a normalised table, independent of how its rows are chunked."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["content_hash"]

_SLICE_ROWS = 1 << 16


class _HashSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.digest.update(view)
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def content_hash(table: pa.Table) -> str:
    """sha256 over the table's schema and values, streamed in fixed-size slices.

    >>> a = pa.table({"x": [1, 2, 3]})
    >>> b = pa.concat_tables([a.slice(0, 1), a.slice(1)])  # same rows, other chunks
    >>> content_hash(a) == content_hash(b)
    True
    >>> content_hash(a) == content_hash(pa.table({"x": [1, 2, 4]}))
    False
    >>> content_hash(pa.table({"x": [1, None]})) == content_hash(pa.table({"x": [1, 0]}))
    False
    """
    sink = _HashSink()
    canonical = _canonical(table)
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), canonical.schema) as writer:
        for start in range(0, max(canonical.num_rows, 1), _SLICE_ROWS):
            writer.write_table(canonical.slice(start, _SLICE_ROWS).combine_chunks())
    return sink.digest.hexdigest()


def _canonical(table: pa.Table) -> pa.Table:
    """Nulls made explicit: the bytes Arrow keeps under a null slot are undefined.

    A column with nulls is hashed as its validity mask plus its values with every null
    replaced by one fixed value, so equal data hashes equal whatever wrote it.
    """
    names, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        names.append(field.name)
        if column.null_count == 0 or pa.types.is_null(field.type):
            columns.append(column)
            continue
        columns.append(pc.fill_null(column, _filler(field.type)))
        names.append(f"{field.name}\x00valid")
        columns.append(pc.is_valid(column))
    return pa.table(columns, names=names)


def _filler(kind: pa.DataType) -> pa.Scalar:
    """The zero of ``kind`` (False, "", 0, the epoch), built from zeroed buffers: any
    conversion from a Python value makes pyarrow import pandas, a second or more of CPU."""
    offsets = {pa.string(): 4, pa.binary(): 4, pa.large_string(): 8, pa.large_binary(): 8}
    if kind in offsets:
        buffers = [None, pa.py_buffer(bytes(2 * offsets[kind])), pa.py_buffer(b"")]
        return pa.Array.from_buffers(kind, 1, buffers)[0]
    try:
        width = max(1, kind.bit_width // 8)
    except ValueError:  # not a fixed-width type
        return pa.scalar(0, kind)
    return pa.Array.from_buffers(kind, 1, [None, pa.py_buffer(bytes(width))])[0]
