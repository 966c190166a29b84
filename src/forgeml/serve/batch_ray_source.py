"""The input file of a Ray batch scoring as a Ray Data source, read chunk by chunk.

One read task opens the file with forgeml's readers (the values typed exactly as local
scoring types them) and yields each chunk, numbered rows attached, as soon as it is read:
Ray Data streams the chunks on to the scoring actors with back-pressure, so neither the
driver nor a worker holds the whole file. The file must be readable at the same path on
the node that runs the read task (a shared folder or the head node on one machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pyarrow as pa
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from forgeml.errors import DataError
from forgeml.serve.batch_read import open_input

__all__ = ["ChunkSource"]


class ChunkSource(Datasource):
    """The rows of ``path`` in chunks of ``chunk_rows``, each row's number in column ``row``."""

    def __init__(self, path: Path, chunk_rows: int, row: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._path, self._chunk_rows, self._row = path, chunk_rows, row

    def estimate_inmemory_data_size(self) -> int:
        return self._path.stat().st_size

    def get_read_tasks(self, parallelism: int, *args: object, **kwargs: object) -> list[ReadTask]:
        # One task reads the file in order: CSV cannot be split without parsing it, and the
        # scoring, not the reading, is what takes the time
        metadata = BlockMetadata(
            num_rows=None,
            size_bytes=self.estimate_inmemory_data_size(),
            input_files=(str(self._path),),
            exec_stats=None,
        )
        read = partial(read_chunks, self._path, self._chunk_rows, self._row)
        return [ReadTask(read, metadata)]


def read_chunks(path: Path, chunk_rows: int, row: str) -> Iterator[pa.Table]:
    """The file's chunks as tables, with the row numbers; a broken row stops the read."""
    source = open_input(path, chunk_rows)
    try:
        for chunk in source.chunks():
            if chunk.broken:
                raise DataError(
                    f"row {chunk.broken[0].row} of {source.path} cannot be read: "
                    f"{chunk.broken[0].reason}; nothing was written",
                    fix="correct the row, or score the file locally with --on-error skip",
                )
            if chunk.data.num_rows:
                table = pa.Table.from_batches([chunk.data])
                yield table.append_column(row, pa.array(chunk.rows, pa.int64()))
    finally:
        source.close()
