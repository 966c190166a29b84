"""``forgeml features materialize``: the latest values per entity into the online store.

Column features are pushed chunk by chunk (time windows of ``chunk``, oldest first), each
chunk streamed from DuckDB in record batches, so memory stays bounded however long the range.
After each chunk the view's watermark is stored: a killed run resumes where it stopped, and
the next run starts from the watermark (a run whose source version and range are already
covered does nothing; a new source version is read from its first row, since it may hold
late rows of any time). Windowed aggregations are computed as of ``end`` for every entity
with rows in their widest window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError
from forgeml.featurestore.asof import CREATED, TS
from forgeml.featurestore.definitions import FeatureRegistry, FeatureView, parse_window
from forgeml.featurestore.offline import (
    ENTITY_ROWS,
    ROW,
    _source_rows,
    _window_sql,
    connect,
)
from forgeml.featurestore.online.base import OnlineStore, encode, encode_key
from forgeml.featurestore.sources import POSITION, SourceReader, Table, quote

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from forgeml.project import ProjectLike

__all__ = ["WINDOWS_SUFFIX", "MaterializeResult", "materialize", "to_utc_naive"]

WINDOWS_SUFFIX = "#windows"
"""Aggregations of view V live under ``V#windows`` in the online store."""

_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class MaterializeResult:
    view: str
    start: datetime | None
    end: datetime
    chunks: int
    rows: int
    versions: dict[str, str]
    skipped: bool = False


def to_utc_naive(value: datetime | str) -> datetime:
    """A timestamp as naive UTC (naive input is taken as UTC)."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    moment: datetime = stamp.to_pydatetime()
    return moment


def micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def materialize(
    *,
    project: ProjectLike = None,
    registry: FeatureRegistry | None = None,
    store: OnlineStore,
    views: Sequence[str] | None = None,
    tables: Mapping[str, Table] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    chunk: str = "1d",
    memory_limit: str | None = None,
    batch_rows: int = 10_000,
    progress: Callable[[str], None] | None = None,
) -> list[MaterializeResult]:
    """Push the latest feature values of ``views`` (default: all) into ``store``."""
    if registry is None:
        from forgeml.featurestore.offline import _project_registry

        registry = _project_registry(project)
    say = progress or (lambda _text: None)
    step = parse_window(chunk)
    stop = to_utc_naive(end) if end is not None else datetime.now(UTC).replace(tzinfo=None)
    chosen = [registry.view(v) for v in views] if views else list(registry.views.values())
    if not chosen:
        raise ConfigError("no feature views to materialize", fix="declare feature_views:")
    results = []
    con = connect(memory_limit)
    try:
        reader = SourceReader(con, project, tables)
        for view in chosen:
            relation = reader.relation(view)
            versions = {k: v for k, v in reader.versions.items() if k in _names(view)}
            begin = to_utc_naive(start) if start is not None else None
            results.append(
                _materialize_view(
                    con,
                    registry,
                    view,
                    relation,
                    store,
                    versions,
                    begin,
                    stop,
                    step,
                    batch_rows,
                    say,
                )
            )
    finally:
        con.close()
    return results


def _names(view: FeatureView) -> set[str]:
    if view.source is not None:
        return {view.source.partition("@")[0], view.source}
    return {f"query:{view.name}"}


def _materialize_view(
    con: duckdb.DuckDBPyConnection,
    registry: FeatureRegistry,
    view: FeatureView,
    relation: str,
    store: OnlineStore,
    versions: dict[str, str],
    start: datetime | None,
    end: datetime,
    step: timedelta,
    batch_rows: int,
    say: Callable[[str], None],
) -> MaterializeResult:
    mark = store.watermark(view.name)
    if start is None and mark is not None:
        covered = datetime.fromisoformat(mark["end"])
        if mark.get("versions") == versions:  # the same data: resume where it stopped
            if covered >= end:
                say(f"{view.name}: up to date (to {covered}, {', '.join(versions.values())})")
                return MaterializeResult(view.name, covered, end, 0, 0, versions, skipped=True)
            start = covered
        # a new source version may hold late rows of any time: it is read from its first row
    src = _source_rows(registry, view, relation, [f.column for f in view.columns])
    if start is None:  # from the first row on
        first = con.sql(f"SELECT min({TS}) FROM ({src})").fetchall()[0][0]
        start = first - timedelta(microseconds=1) if first is not None else end
    keys = registry.join_keys(view)
    written = chunks = 0
    low = start
    while low < end:
        high = min(low + step, end)
        if view.columns:
            written += _push_latest(con, view, keys, src, store, low, high, batch_rows)
        chunks += 1
        store.set_watermark(view.name, {"end": high.isoformat(), "versions": versions})
        say(f"{view.name}: to {high} ({written:,} rows)")
        low = high
    if view.aggregations:
        written += _push_windows(con, registry, view, relation, store, start, end, batch_rows)
    store.set_watermark(view.name, {"end": end.isoformat(), "versions": versions})
    return MaterializeResult(view.name, start, end, chunks, written, versions)


def _push_latest(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    keys: Sequence[str],
    src: str,
    store: OnlineStore,
    low: datetime,
    high: datetime,
    batch_rows: int,
) -> int:
    partition = ", ".join(quote(k) for k in keys)
    sql = (
        f"SELECT * FROM ({src}) WHERE {TS} > TIMESTAMP '{low.isoformat(sep=' ')}' "
        f"AND {TS} <= TIMESTAMP '{high.isoformat(sep=' ')}' "
        f"QUALIFY row_number() OVER (PARTITION BY {partition} "
        f"ORDER BY {TS} DESC, {CREATED} DESC NULLS LAST, {POSITION} DESC) = 1"
    )
    names = [(f.name, f.column) for f in view.columns]
    return _stream(con, sql, keys, names, view.name, store, batch_rows)


def _push_windows(
    con: duckdb.DuckDBPyConnection,
    registry: FeatureRegistry,
    view: FeatureView,
    relation: str,
    store: OnlineStore,
    start: datetime,
    end: datetime,
    batch_rows: int,
) -> int:
    """Aggregations as of ``end`` for every entity with rows since ``start - widest window``."""
    keys = registry.join_keys(view)
    widest = max(f.span for f in view.aggregations)
    src = _source_rows(registry, view, relation, [])
    listed = ", ".join(quote(k) for k in keys)
    stamp = end.isoformat(sep=" ")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ENTITY_ROWS} AS SELECT {listed}, "
        f"TIMESTAMP '{stamp}' AS {TS}, row_number() OVER () AS {ROW} FROM "
        f"(SELECT DISTINCT {listed} FROM ({src}) WHERE {TS} <= TIMESTAMP '{stamp}' "
        f"AND {TS} > TIMESTAMP '{(start - widest).isoformat(sep=' ')}')"
    )
    try:
        inner = _window_sql(registry, view, view.aggregations, relation, False)
        picked = ", ".join(f"r.{quote(k)}" for k in keys)
        sql = (
            f"SELECT {picked}, r.{TS}, w.* EXCLUDE ({ROW}) FROM ({inner}) w "
            f"JOIN {ENTITY_ROWS} r USING ({ROW})"
        )
        names = [(f.name, f.name) for f in view.aggregations]
        return _stream(con, sql, keys, names, view.name + WINDOWS_SUFFIX, store, batch_rows)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {ENTITY_ROWS}")


def _stream(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    keys: Sequence[str],
    names: Sequence[tuple[str, str]],
    target: str,
    store: OnlineStore,
    batch_rows: int,
) -> int:
    written = 0
    reader = con.sql(sql).to_arrow_reader(batch_rows)
    for batch in reader:
        rows = _records(batch, keys, names)
        store.write(target, rows)
        written += len(rows)
    return written


def _records(
    batch: pa.RecordBatch, keys: Sequence[str], names: Sequence[tuple[str, str]]
) -> list[tuple[str, int, bytes]]:
    key_values = [batch.column(k).to_pylist() for k in keys]
    stamps = batch.column(TS).to_pylist()
    features = [(name, batch.column(column).to_pylist()) for name, column in names]
    rows = []
    for i, stamp in enumerate(stamps):
        ts = micros(stamp)
        values: dict[str, Any] = {name: column[i] for name, column in features}
        rows.append((encode_key([k[i] for k in key_values]), ts, encode({"ts": ts, "v": values})))
    return rows
