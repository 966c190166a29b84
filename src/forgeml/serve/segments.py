"""Prediction-log segments in the stores: one Parquet artifact plus one index row each.

A segment is written whole, as one content-addressed artifact (temp file, fsync, rename;
a single PUT on object stores), and only then indexed in ``prediction_segments``. Readers
see indexed segments only, so a crash can lose the batch being written but never leaves
a partial segment visible. Reads verify each artifact's sha256 before parsing it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from forgeml.errors import ConfigError, DataError
from forgeml.project import Project
from forgeml.serve.logschema import TIME_TYPE
from forgeml.store.predictions import SegmentKind, add_segment, find_segments

__all__ = [
    "TimeLike",
    "concat",
    "in_window",
    "read_segments",
    "to_utc",
    "write_segment",
    "writer_id",
]

TimeLike = datetime | float | int | None
"""A point in time: an aware datetime (naive ones are UTC), or unix seconds."""

COMPRESSION = "zstd"


def writer_id() -> str:
    """``host:pid:token`` naming the process (and each log in it) that wrote a segment."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


def write_segment(
    project: Project, model: str, kind: SegmentKind, table: pa.Table, *, writer: str
) -> int:
    """Store ``table`` as one segment of ``model``'s log and index it; returns its rows.

    Writing the same table twice stores and indexes it once.
    """
    if table.num_rows == 0:
        return 0
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=COMPRESSION)
    data = sink.getvalue().to_pybytes()
    sha256 = project.artifacts.put_bytes(data)
    bounds = pc.min_max(table.column("time"))
    with project.store.write() as session:
        add_segment(
            session,
            model=model,
            kind=kind,
            artifact_sha256=sha256,
            size_bytes=len(data),
            rows=table.num_rows,
            first_time=bounds["min"].as_py(),
            last_time=bounds["max"].as_py(),
            writer=writer,
        )
    return int(table.num_rows)


def read_segments(
    project: Project,
    model: str,
    kind: SegmentKind,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Collection[str] | None = None,
) -> list[pa.Table]:
    """The indexed segments of ``model`` that may hold rows in ``[start, end)``, in the
    order they were written; only ``columns`` (those a segment has) are read."""
    with project.store.read() as session:
        shas = [
            s.artifact_sha256 for s in find_segments(session, model, kind, start=start, end=end)
        ]
    tables = []
    for sha256 in shas:
        with pq.ParquetFile(project.artifacts.local_path(sha256)) as segment:
            names = segment.schema_arrow.names
            wanted = None if columns is None else [n for n in names if n in columns]
            tables.append(segment.read(columns=wanted))
    return tables


def concat(tables: Sequence[pa.Table], empty: pa.Schema, *, model: str) -> pa.Table:
    """Segments as one table; columns a segment lacks are null there, and numeric types
    widen where a model's inputs changed type between versions."""
    if not tables:
        return empty.empty_table()
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise DataError(
            f"the prediction log of model '{model}' holds a column with incompatible types "
            f"in different segments: {e}",
            fix="read fewer columns (columns=...) or one model version at a time (version=...)",
        ) from None


def in_window(times: pa.ChunkedArray, start: datetime | None, end: datetime | None) -> pa.Array:
    """Which ``times`` fall in ``[start, end)`` (open where a bound is None)."""
    keep = pc.is_valid(times)
    if start is not None:
        keep = pc.and_(keep, pc.greater_equal(times, pa.scalar(start, TIME_TYPE)))
    if end is not None:
        keep = pc.and_(keep, pc.less(times, pa.scalar(end, TIME_TYPE)))
    return keep


def to_utc(value: TimeLike, name: str = "time") -> datetime | None:
    """An aware UTC datetime from a datetime (naive means UTC) or unix seconds.

    >>> to_utc(0), to_utc(datetime(2024, 5, 1, 12))
    (datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc))
    """  # noqa: E501
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):
            pass
    raise ConfigError(
        f"{name}={value!r} is not a point in time",
        fix=f"pass {name} as a datetime or as unix seconds",
    )
