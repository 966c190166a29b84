"""Read a source into an Arrow table: files (CSV, Parquet, JSON lines), SQL queries, frames.

Files are sniffed before they are parsed, so a file that is not what its extension says
fails with a message naming what it looks like instead of a parser's stack trace.
"""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from forgeml.errors import MissingDependency, SourceError
from forgeml.store.engine import display_url

__all__ = [
    "FileFormat",
    "Loaded",
    "is_sql_url",
    "read_file",
    "read_frame",
    "read_sql",
    "sniff_separator",
]

FileFormat = Literal["csv", "parquet", "jsonl"]
EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_SNIFF_BYTES = 64 * 1024
# Arrow parses a CSV in blocks of this many bytes, one chunk per block and column. Its
# 1 MiB default leaves a large file in hundreds of chunks, and every later stage (hash,
# profile, Parquet write) pays per chunk: larger blocks cut their CPU by a tenth or more,
# while two blocks per core still keep every core parsing.
CSV_BLOCK_BYTES = 8 * 1024 * 1024
_MAX_BAD_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Loaded:
    """A table read from a source, with a description safe to store and print."""

    table: pa.Table
    source: str
    separator: str | None = None  # the column separator of a CSV file, as detected


def is_sql_url(text: str) -> bool:
    """True for a SQLAlchemy database URL such as ``postgresql+psycopg://...``.

    >>> is_sql_url("sqlite:///shop.db"), is_sql_url("data/train.csv"), is_sql_url("s3://b/x")
    (True, False, False)
    """
    scheme = text.split("://", 1)[0].split("+", 1)[0] if "://" in text else ""
    return scheme in {"sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle"}


def read_file(
    path: str | os.PathLike[str], *, file_format: FileFormat | None = None, encoding: str = "utf-8"
) -> Loaded:
    """Read a CSV, Parquet or JSON-lines file."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path} does not exist", fix="check the path and the current folder")
    if path.is_dir():
        raise SourceError(f"{path} is a folder, not a file", fix="name one data file")
    if not stat.S_ISREG(path.stat().st_mode):  # reading a pipe or a device could block forever
        raise SourceError(
            f"{path} is not a regular file (it is a pipe, socket or device)",
            fix="write the data to a file first, then ingest that file",
        )
    head = _head(path)
    if not head:
        raise SourceError(f"{path} is empty (0 bytes)", fix="export the data again, with a header")
    sniffed = _sniff(head)
    declared = file_format or EXTENSIONS.get(path.suffix.lower())
    if sniffed is None:
        raise SourceError(
            f"{path} is a binary file forgeml cannot read (it is neither Parquet nor text)",
            fix="ingest a CSV, Parquet or JSON-lines file",
        )
    if declared is not None and declared != sniffed:
        raise SourceError(
            f"{path} is not a {_NAMES[declared]} file: its content looks like {_NAMES[sniffed]}",
            fix=f"rename it with the right extension, or pass --format {sniffed}",
        )
    separator = None
    if sniffed == "csv":
        separator = sniff_separator(_decode_head(path, head, encoding), path.suffix.lower())
        table = _read_csv(path, encoding, separator)
    else:
        table = _read_parquet(path) if sniffed == "parquet" else _read_jsonl(path)
    if table.num_rows == 0:
        raise SourceError(
            f"{path} has a header but no rows", fix="ingest a file that contains data rows"
        )
    return Loaded(table, str(path), separator)


def read_sql(url: str, query: str) -> Loaded:
    """Run ``query`` on the database at ``url`` (any SQLAlchemy URL)."""
    import pandas as pd
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

    shown = display_url(url)
    try:
        engine = _sqlite_read_only(url) if url.startswith("sqlite") else create_engine(url)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        if url.startswith(("postgresql", "postgres")):
            raise MissingDependency("psycopg", "postgres", f"Reading from {shown}") from e
        raise SourceError(
            f"no database driver for {shown} is installed",
            fix="install the SQLAlchemy driver named in the URL (e.g. pymysql for mysql+pymysql)",
        ) from e
    try:
        with engine.connect() as connection:
            frame = pd.read_sql_query(text(query), connection, dtype_backend="pyarrow")
    except pd.errors.DatabaseError as wrapped:
        cause = wrapped.__cause__ if isinstance(wrapped.__cause__, DBAPIError) else None
        reason = _scrub(_first_line(cause.orig), url) if cause and cause.orig else "failed"
        raise SourceError(f"query failed on {shown}: {reason}", fix="check the query") from None
    except DBAPIError as e:
        reason = _scrub(_first_line(e.orig) if e.orig else type(e).__name__, url)
        stage = (
            "cannot connect to" if e.connection_invalidated or _is_connect(e) else "query failed on"
        )
        raise SourceError(
            f"{stage} {shown}: {reason}",
            fix="check the URL, that the server is running, and the query",
        ) from None
    except SQLAlchemyError as e:
        raise SourceError(
            f"query failed on {shown}: {_scrub(str(e), url)}", fix="check the query"
        ) from None
    finally:
        engine.dispose()
    return Loaded(read_frame(frame).table, f"sql:{shown}")


def _sqlite_read_only(url: str) -> Any:
    """An engine on an existing SQLite file, opened read-only so reading never creates it."""
    import sqlite3
    import urllib.parse

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    database = make_url(url).database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise SourceError(
            f"{display_url(url)} names no database file",
            fix="write sqlite:///path/to/file.db (three slashes, then the file's path)",
        )
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        problem = "does not exist" if not path.exists() else "is not a regular file"
        raise SourceError(
            f"the SQLite database {path} {problem}; nothing was created",
            fix="check the path in the URL (sqlite:///relative.db or sqlite:////absolute.db)",
        )
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def read_frame(frame: Any) -> Loaded:
    """Turn a pandas or polars DataFrame, or an Arrow table or record batch, into a table."""
    if isinstance(frame, pa.Table):
        return Loaded(frame, "arrow table")
    if isinstance(frame, pa.RecordBatch):
        return Loaded(pa.Table.from_batches([frame]), "arrow record batch")
    module = type(frame).__module__.split(".", 1)[0]
    if module == "polars":
        return Loaded(frame.to_arrow(), "polars frame")
    if module == "pandas":
        return Loaded(_from_pandas(frame), "pandas frame")
    raise SourceError(
        f"cannot ingest an object of type {type(frame).__name__}",
        fix="pass a file path, a SQL URL with a query, or a pandas/polars/Arrow table",
    )


_NAMES = {"csv": "CSV text", "parquet": "Parquet", "jsonl": "JSON lines"}


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(_SNIFF_BYTES)


def _sniff(head: bytes) -> FileFormat | None:
    if head.startswith(b"PAR1"):
        return "parquet"
    if b"\x00" in head:
        return None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if stripped.startswith(b"{") else "csv"


SEPARATORS = (",", ";", "\t", "|")
"""Column separators a CSV file is checked for, the first preferred on a tie."""
_SNIFF_LINES = 50


def sniff_separator(head: str, suffix: str = ".csv") -> str:
    r"""The separator that splits the first lines of ``head`` into the same number of
    columns (more than one), the most columns winning; a comma when none does.

    >>> sniff_separator("a;b;c\n1;2,5;3\n"), sniff_separator("a\tb\n1\t2\n")
    (';', '\t')
    >>> sniff_separator("id,note\n1,x;y\n")
    ','
    """
    import csv

    lines = head.splitlines(keepends=True)
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]  # the head may end inside a line
    lines = [line for line in lines[:_SNIFF_LINES] if line.strip()]
    best, best_columns = ("\t" if suffix == ".tsv" else ","), 1
    for separator in SEPARATORS:
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=separator) if row}
        except csv.Error:
            continue
        if len(counts) == 1 and (columns := counts.pop()) > best_columns:
            best, best_columns = separator, columns
    return best


def _decode_head(path: Path, head: bytes, encoding: str) -> str:
    """The first bytes of a text file as text, refused clearly if they do not decode."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError as e:
        raise SourceError(
            f"unknown text encoding {encoding!r}",
            fix="pass a Python codec name such as utf-8 or latin-1",
        ) from e
    try:
        return decoder.decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeError:
        raise _encoding_error(path, encoding) from None


def _read_csv(path: Path, encoding: str, delimiter: str) -> pa.Table:
    bad_rows: list[pacsv.InvalidRow] = []

    def on_bad_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, block_size=_block_size(path)),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            # The system allocator parses a large file a third faster in a fresh process.
            memory_pool=pa.system_memory_pool(),
        )
    except pa.ArrowInvalid as e:
        raise _csv_error(path, str(e), encoding) from None
    except UnicodeError:
        raise _encoding_error(path, encoding) from None
    if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
        raise _encoding_error(path, encoding)  # Arrow keeps undecodable text as bytes
    if bad_rows:
        expected = bad_rows[0].expected_columns
        lines = _ragged_lines(path, encoding, delimiter, expected)
        shown = "; ".join(f"line {line} has {fields} fields" for line, fields in lines)
        more = len(bad_rows) - len(lines)
        raise SourceError(
            f"{path} has {len(bad_rows)} row(s) with the wrong number of fields "
            f"(the header has {expected}): {shown}" + (f"; and {more} more" if more > 0 else ""),
            fix="fix those rows (often an unquoted comma inside a value) and ingest again",
        )
    if _has_line_breaks(table):
        _check_quotes(path, encoding, delimiter)
    return table


def _block_size(path: Path) -> int:
    """Large blocks for a large file, yet at least four of them, so that every core parses.

    >>> _block_size(Path("/no/such/file"))
    1048576
    """
    try:
        size = path.stat().st_size
    except OSError:
        return 1 << 20
    return max(1 << 20, min(CSV_BLOCK_BYTES, size // 4))


def _has_line_breaks(table: pa.Table) -> bool:
    """Whether a text value spans lines: legitimate when quoted, or an unclosed quote.

    Looks for the byte ``\\n`` in each text chunk's character data directly (UTF-8 never
    uses that byte inside another character): a fifth of the time of a string kernel.
    """
    import numpy as np

    for column in table.columns:
        kind = column.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            continue
        offset_type = np.int64 if pa.types.is_large_string(kind) else np.int32
        for chunk in column.chunks:
            data = chunk.buffers()[2]
            if not len(chunk) or data is None:
                continue
            offsets = np.frombuffer(
                chunk.buffers()[1],
                dtype=offset_type,
                count=len(chunk) + 1,
                offset=chunk.offset * np.dtype(offset_type).itemsize,
            )
            text = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]]
            if np.any(text == ord("\n")):
                return True
    return False


def _check_quotes(path: Path, encoding: str, delimiter: str) -> None:
    """Refuse a quote that is never closed: it would swallow every row after it."""
    import csv

    with path.open(encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        started = 1
        try:
            for _row in reader:
                started = reader.line_num + 1
        except csv.Error:
            raise SourceError(
                f"{path} has a quote that is never closed, in the row that starts at line "
                f"{started}: every line after it would be read as part of one value",
                fix='close the quote (or double a quote inside a quoted value: "") '
                "and ingest again",
            ) from None


def _ragged_lines(
    path: Path, encoding: str, delimiter: str, expected: int
) -> list[tuple[int, int]]:
    """Line numbers of the first rows whose field count differs (error path only)."""
    import csv

    found: list[tuple[int, int]] = []
    with path.open(encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if row and len(row) != expected:
                found.append((reader.line_num, len(row)))
                if len(found) == _MAX_BAD_ROWS_SHOWN:
                    break
    return found


def _csv_error(path: Path, message: str, encoding: str) -> SourceError:
    if "Empty CSV file" in message:
        return SourceError(f"{path} has no header line", fix="add a header row naming the columns")
    if "UTF8" in message:
        return _encoding_error(path, encoding)
    return SourceError(
        f"{path} cannot be parsed as CSV: {message.splitlines()[0]}",
        fix="check the file's delimiter and quoting",
    )


def _encoding_error(path: Path, encoding: str) -> SourceError:
    return SourceError(
        f"{path} does not decode as {encoding}, the encoding asked for"
        f"{_first_undecodable(path, encoding)}",
        fix="pass --encoding with the file's real encoding (utf-8 when not given; "
        "e.g. latin-1 or cp1252)",
    )


def _first_undecodable(path: Path, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                bad = chunk[e.start : e.start + 1].hex().upper()
                line += chunk[: e.start].count(b"\n")
                return (
                    f": byte 0x{bad} at offset {offset + e.start} (line {line}) cannot be decoded"
                )
            except UnicodeError as e:  # e.g. UTF-16 without a byte-order mark
                return f": {e}"
            line += chunk.count(b"\n")
            offset += len(chunk)
    return ""


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise SourceError(
            f"{path} is not a readable Parquet file: {str(e).splitlines()[0]}",
            fix="write the file again; it may be truncated",
        ) from None


def _read_jsonl(path: Path) -> pa.Table:
    try:
        table = pajson.read_json(path)
    except pa.ArrowInvalid as e:
        raise SourceError(
            f"{path} is not valid JSON lines: {str(e).splitlines()[0]}",
            fix="write one JSON object per line, all with the same keys and value types",
        ) from None
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()  # nested objects become 'parent.child' columns
    return table


def _from_pandas(frame: Any) -> pa.Table:
    import pandas as pd

    from forgeml.data.normalize import check_names

    frame = frame.copy(deep=False)
    frame.columns = check_names([str(c) for c in frame.columns])
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowTypeError, pa.ArrowInvalid) as e:
        for name in frame.columns:
            column = frame[name]
            if isinstance(column, pd.DataFrame):
                continue  # duplicate names are reported by normalisation
            kinds = {type(v).__name__ for v in column.dropna().head(100_000)}
            if len(kinds) > 1 and column.dtype == object:
                raise SourceError(
                    f"column '{name}' mixes value types ({', '.join(sorted(kinds))})",
                    fix=f"convert it to one type first, e.g. frame['{name}'].astype(str)",
                ) from None
        raise SourceError(
            f"the frame cannot be converted to columns: {e}",
            fix="convert object columns to plain types first",
        ) from None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_connect(error: Any) -> bool:
    text = str(error).lower()
    return any(w in text for w in ("connect", "refused", "unable to open", "authentication"))


def _scrub(message: str, url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:
        return message
    return message.replace(str(password), "***") if password else message
