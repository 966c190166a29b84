"""Output files of batch scoring: written chunk by chunk, appearing whole or not at all.

Each :class:`TableFile` writes to a hidden temporary file next to its destination and is
renamed into place (after an fsync) only by :meth:`TableFile.commit`; a failure or a crash
before that leaves no file under the final name, and a file from an earlier run is kept
until the new one replaces it. Parquet files get one row group per chunk, so memory stays
bounded by the chunk; CSV is written with a header.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> out = TableFile(folder / "scores.parquet", pa.schema([("x", pa.int64())]))
>>> out.write(pa.table({"x": [1, 2]}))
>>> (folder / "scores.parquet").exists()
False
>>> out.commit()
>>> pq.read_table(folder / "scores.parquet").num_rows, out.rows
(2, 2)
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from forgeml.errors import ConfigError

__all__ = ["FileFormat", "TableFile", "file_format", "rejects_path"]

FileFormat = Literal["parquet", "csv"]
_SUFFIXES: dict[str, FileFormat] = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def file_format(path: Path, what: str = "output") -> FileFormat:
    """The format a file is written in, from its extension.

    >>> file_format(Path("scores.parquet")), file_format(Path("bad.CSV"))
    ('parquet', 'csv')
    """
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ConfigError(
            f"cannot tell which format to write the {what} file {path} in",
            fix="name it with the extension .parquet or .csv",
        )
    return found


def rejects_path(output: Path) -> Path:
    """Where the rejected rows go by default: next to the output, in the same format.

    >>> rejects_path(Path("out/scores.parquet")).as_posix()
    'out/scores.rejects.parquet'
    """
    return output.with_name(f"{output.stem}.rejects{output.suffix}")


class TableFile:
    """A table written in pieces to a temporary file and renamed into place on commit."""

    def __init__(self, path: Path, schema: pa.Schema, *, what: str = "output") -> None:
        self.path = path
        self.format = file_format(path, what)
        self.schema = schema
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self.temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
        self._writer: Any
        if self.format == "parquet":
            self._writer = pq.ParquetWriter(self.temp, schema)
        else:
            self._writer = pacsv.CSVWriter(str(self.temp), schema)
        self._open = True

    def write(self, table: pa.Table) -> None:
        """Append rows (one Parquet row group, or CSV lines)."""
        if table.num_rows:
            if not table.schema.equals(self.schema):
                table = table.cast(self.schema)
            self._writer.write_table(table)
            self.rows += table.num_rows

    def commit(self) -> None:
        """Finish the file, make it durable and move it to its final name."""
        self._close()
        _fsync(self.temp, os.O_RDONLY)
        os.replace(self.temp, self.path)
        with contextlib.suppress(OSError):  # not every platform can sync a folder
            _fsync(self.path.parent, os.O_RDONLY)

    def discard(self) -> None:
        """Drop the temporary file; the final name is left as it was."""
        with contextlib.suppress(Exception):
            self._close()
        self.temp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._open:
            self._open = False
            self._writer.close()


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
