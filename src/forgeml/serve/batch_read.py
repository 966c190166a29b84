"""Input files for batch scoring, read in chunks so memory stays bounded by the chunk.

Parquet is read batch by batch without pre-buffering (which would fetch every row group
ahead) through a small read buffer, so even a file of one huge row group streams. CSV (and
gzip-compressed CSV) goes through Arrow's streaming reader: every column as text, exactly
as it is in the file, one block at a time. A CSV line with the wrong number of fields is
not a crash: it comes back as a broken row with its row number.

Rows are numbered from 0 in file order, the header not counted; in a CSV file row ``r`` is
line ``r + 2`` (empty lines count as rows, so the numbers stay true).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from forgeml.errors import SourceError

__all__ = ["BrokenRow", "Chunk", "InputFile", "open_input"]

Unit = Literal["rows", "bytes"]
PARQUET_SUFFIXES = (".parquet", ".pq")
_READ_BUFFER = 1 << 20


@dataclass(frozen=True)
class BrokenRow:
    """A CSV line that could not be split into the header's columns."""

    row: int
    reason: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of the file: the data, each row's number, and broken rows found."""

    data: pa.RecordBatch
    rows: np.ndarray
    broken: list[BrokenRow] = field(default_factory=list)


class InputFile:
    """A file being read: its columns, its size for progress, and its chunks."""

    def __init__(self, path: Path, schema: pa.Schema, total: int, unit: Unit) -> None:
        self.path = path
        self.schema = schema
        self.total = total
        self.unit: Unit = unit

    @property
    def done(self) -> int:
        """How far reading has come, in :attr:`unit` (rows or bytes)."""
        raise NotImplementedError

    def chunks(self) -> Iterator[Chunk]:
        """The file's rows, at most ``chunk_rows`` a chunk."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


def open_input(path: str | Path, chunk_rows: int) -> InputFile:
    """Open a Parquet or CSV file for reading in chunks of at most ``chunk_rows`` rows."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist", fix="check the path and the current folder")
    if path.is_dir():
        raise SourceError(f"{path} is a folder, not a file", fix="name one Parquet or CSV file")
    with path.open("rb") as f:
        head = f.read(64 * 1024)
    if not head:
        raise SourceError(f"{path} is empty (0 bytes)", fix="export the data again, with a header")
    name = path.name.lower()
    if head.startswith(b"PAR1"):
        return _ParquetInput(path, chunk_rows)
    if name.endswith(PARQUET_SUFFIXES):
        raise SourceError(
            f"{path} is not a Parquet file (it does not start with Parquet's marker)",
            fix="write the file again, or give it the extension of what it holds (.csv)",
        )
    if not name.endswith(".gz") and b"\x00" in head:
        raise SourceError(
            f"{path} is a binary file forgeml cannot read (it is neither Parquet nor text)",
            fix="score a Parquet or CSV file",
        )
    return _CsvInput(path, chunk_rows)


class _ParquetInput(InputFile):
    def __init__(self, path: Path, chunk_rows: int) -> None:
        try:
            self._file = pq.ParquetFile(path, pre_buffer=False, buffer_size=_READ_BUFFER)
        except (pa.ArrowInvalid, OSError) as e:
            raise _unreadable(path, e) from None
        super().__init__(path, self._file.schema_arrow, self._file.metadata.num_rows, "rows")
        self._chunk_rows = chunk_rows
        self._done = 0

    @property
    def done(self) -> int:
        return self._done

    def chunks(self) -> Iterator[Chunk]:
        batches = self._file.iter_batches(batch_size=self._chunk_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError) as e:
                raise _unreadable(self.path, e) from None
            start = self._done
            self._done += batch.num_rows
            yield Chunk(batch, np.arange(start, self._done, dtype=np.int64))

    def close(self) -> None:
        self._file.close()


class _CsvInput(InputFile):
    def __init__(self, path: Path, chunk_rows: int) -> None:
        self._chunk_rows = chunk_rows
        self._delimiter = "\t" if ".tsv" in path.suffixes[-2:] else ","
        self._block = min(max(chunk_rows * 128, 1 << 20), 64 << 20)
        self._broken: list[BrokenRow] = []
        self._skipped: list[int] = []  # rows the parser skipped that are not yet numbered
        self._next = 0
        names = self._header(path)
        super().__init__(
            path, pa.schema([(n, pa.string()) for n in names]), path.stat().st_size, "bytes"
        )
        self._raw, self._reader = self._open(names)

    @property
    def done(self) -> int:
        return int(self._raw.tell())

    def chunks(self) -> Iterator[Chunk]:
        while True:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as e:
                raise _csv_error(self.path, e) from None
            rows = self._number(batch.num_rows)
            for start in range(0, batch.num_rows, self._chunk_rows):
                end = min(start + self._chunk_rows, batch.num_rows)
                # Broken rows travel with the chunk they belong to, so rejects stay in order.
                limit = int(rows[end]) if end < batch.num_rows else self._next
                yield Chunk(batch.slice(start, end - start), rows[start:end], self._drain(limit))
        if self._broken:
            empty = pa.RecordBatch.from_pylist([], schema=self.schema)
            yield Chunk(empty, np.empty(0, dtype=np.int64), self._drain(None))

    def close(self) -> None:
        self._raw.close()

    def _options(self, names: list[str] | None) -> dict[str, object]:
        types = {n: pa.string() for n in names or []}
        return {
            # One thread: the parser then knows each bad line's number.
            "read_options": pacsv.ReadOptions(block_size=self._block, use_threads=False),
            "parse_options": pacsv.ParseOptions(
                delimiter=self._delimiter,
                invalid_row_handler=self._on_broken,
                ignore_empty_lines=False,
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        }

    def _header(self, path: Path) -> list[str]:
        raw, stream = _csv_stream(path)
        try:
            reader = pacsv.open_csv(stream, **self._options(None))
            names = list(reader.schema.names)
        except pa.ArrowInvalid as e:
            raise _csv_error(path, e) from None
        finally:
            raw.close()
        self._broken.clear()  # the real pass reports them
        self._skipped.clear()
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SourceError(
                f"{path} names the column {repeated[0]!r} more than once",
                fix="give every column of the header its own name",
            )
        return names

    def _open(self, names: list[str]) -> tuple[pa.NativeFile, pacsv.CSVStreamingReader]:
        raw, stream = _csv_stream(self.path)
        try:
            return raw, pacsv.open_csv(stream, **self._options(names))
        except pa.ArrowInvalid as e:
            raw.close()
            raise _csv_error(self.path, e) from None

    def _on_broken(self, row: pacsv.InvalidRow) -> str:
        number = -1 if row.number is None else row.number - 2  # line 1 is the header
        reason = f"has {row.actual_columns} fields, the header has {row.expected_columns}"
        self._broken.append(BrokenRow(number, reason, row.text))
        if number >= 0:
            heapq.heappush(self._skipped, number)
        return "skip"

    def _number(self, count: int) -> np.ndarray:
        """The row numbers of the next ``count`` parsed rows, stepping over skipped lines."""
        out = np.empty(count, dtype=np.int64)
        done, at, skipped = 0, self._next, self._skipped
        while done < count:
            while skipped and skipped[0] < at:
                heapq.heappop(skipped)
            if skipped and skipped[0] == at:
                heapq.heappop(skipped)
                at += 1
                continue
            take = count - done if not skipped else min(count - done, skipped[0] - at)
            out[done : done + take] = np.arange(at, at + take)
            done, at = done + take, at + take
        self._next = at
        return out

    def _drain(self, limit: int | None) -> list[BrokenRow]:
        """The broken rows found so far that come before row ``limit`` (None: all)."""
        if limit is None:
            broken, self._broken = self._broken, []
            return broken
        broken = [b for b in self._broken if b.row < limit]
        self._broken = [b for b in self._broken if b.row >= limit]
        return broken


def _csv_stream(path: Path) -> tuple[pa.NativeFile, pa.NativeFile]:
    """The file (whose position is the progress) and the stream of text to parse."""
    raw = pa.OSFile(str(path))
    if path.name.lower().endswith(".gz"):
        return raw, pa.CompressedInputStream(raw, "gzip")
    return raw, raw


def _unreadable(path: Path, error: Exception) -> SourceError:
    return SourceError(
        f"{path} is not a readable Parquet file: {str(error).splitlines()[0]}",
        fix="write the file again; it may be truncated",
    )


def _csv_error(path: Path, error: Exception) -> SourceError:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "Empty CSV file" in message:
        return SourceError(f"{path} has no header line", fix="add a header row naming the columns")
    if "UTF8" in message or "UTF-8" in message:
        return SourceError(
            f"{path} is not valid UTF-8 text ({message})",
            fix="convert the file to UTF-8 first, e.g. iconv -f latin1 -t utf-8",
        )
    return SourceError(
        f"{path} cannot be parsed as CSV: {message}",
        fix="check the file's delimiter and quoting (a value may not span lines)",
    )
