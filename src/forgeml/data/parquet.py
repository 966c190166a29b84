"""Writing dataset versions as Parquet, in the background and cancellable between row groups."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from forgeml.errors import ArtifactError

__all__ = ["ROW_GROUP_ROWS", "BackgroundWrite", "dictionary_columns"]

# Arrow's default row-group size: smaller groups cost a third more write time, while
# readers can still stream record batches from inside a group.
ROW_GROUP_ROWS = 1024 * 1024
COMPRESSION = "zstd"


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding: all but floating point ones.

    Measured values are nearly all distinct, so a float column's dictionary grows until the
    writer gives up on it, and that attempt costs about a fifth of the write time.

    >>> dictionary_columns(pa.schema({"x": pa.float64(), "city": pa.string(), "n": pa.int64()}))
    ['city', 'n']
    """
    return [field.name for field in schema if not pa.types.is_floating(field.type)]


class BackgroundWrite:
    """Write ``table`` to ``path`` on a worker thread while the caller does other work.

    Arrow writes without holding the GIL, so hashing and profiling run alongside.
    ``cancel()`` stops at the next row group; the partial file is removed either way
    unless ``result()`` returned it.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.parquet"
    >>> with BackgroundWrite(pa.table({"x": [1, 2]}), path) as job:
    ...     written = job.result()
    >>> pq.read_table(written).num_rows
    2
    """

    def __init__(self, table: pa.Table, path: Path) -> None:
        self.path = path
        self._cancelled = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="forgeml-parquet")
        self._future: Future[bool] = self._pool.submit(self._write, table)
        self._kept = False

    def _write(self, table: pa.Table) -> bool:
        with pq.ParquetWriter(
            self.path,
            table.schema,
            compression=COMPRESSION,
            use_dictionary=dictionary_columns(table.schema),
        ) as writer:
            for start in range(0, max(table.num_rows, 1), ROW_GROUP_ROWS):
                if self._cancelled.is_set():
                    return False
                writer.write_table(table.slice(start, ROW_GROUP_ROWS))
        return True

    def result(self) -> Path:
        """Wait for the write to finish and keep the file; a failed write (a full disk, no
        permission) raises :class:`ArtifactError` and the partial file is removed on exit."""
        try:
            done = self._future.result()
        except OSError as e:
            reason = e.strerror or (str(e).splitlines() or [type(e).__name__])[0]
            raise ArtifactError(
                f"could not write the data as Parquet into {self.path.parent}: {reason}; "
                "nothing was stored",
                fix="free disk space ('forgeml space' shows what the project uses) and try again",
            ) from e
        if not done:
            raise RuntimeError("the write was cancelled")
        self._kept = True
        return self.path

    def cancel(self) -> None:
        self._cancelled.set()

    def __enter__(self) -> BackgroundWrite:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._kept:
            self.cancel()
        self._pool.shutdown(wait=True)
        if not self._kept:
            self.path.unlink(missing_ok=True)
