"""Point-in-time joins: each entity row gets the features as they were at its timestamp.

For a row with timestamp ``t``, a column feature is the value in the latest source row of
the same entity with ``event_ts <= t`` and ``event_ts >= t - ttl``; among rows with the same
event timestamp the latest ``created_timestamp`` wins, then the later row of the source. With
``known_as_of=True`` rows created after ``t`` (late backfills) are invisible to ``t``. An
aggregation covers the rows with ``t - window < event_ts <= t`` (see
:class:`~forgeml.featurestore.definitions.Aggregation`).

One view at a time, so memory stays flat however many views are asked for: DuckDB reads
the view's source, and column features are matched to the entity rows by a vectorised
as-of search (:mod:`~forgeml.featurestore.asof`: one sort of the source, one binary
search per entity row); windowed aggregations, and column features known as of each row,
are a DuckDB range join grouped per entity row. No Python runs per row.

>>> import pandas as pd
>>> from forgeml.featurestore.definitions import Entity, FeatureRegistry, FeatureView
>>> registry = FeatureRegistry(
...     [Entity("customer", ["customer_id"])],
...     [FeatureView("spend", entity="customer", source="tx", timestamp="ts", ttl="1d",
...                  features=["amount"])],
... )
>>> tx = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [5.0, 7.0, 9.0],
...                    "ts": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01"])})
>>> rows = pd.DataFrame({"customer_id": [1, 1, 2],
...                      "at": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"])})
>>> get_historical_features(rows, "spend:amount", registry=registry, tables={"tx": tx},
...                         timestamp="at")["amount"].tolist()
[5.0, 7.0, nan]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError, DataError, MissingDependency
from forgeml.featurestore.asof import CREATED, TS, EntityRows
from forgeml.featurestore.definitions import (
    Aggregation,
    Column,
    Feature,
    FeatureRegistry,
    FeatureView,
)
from forgeml.featurestore.on_demand import OnDemandView, Output
from forgeml.featurestore.sources import POSITION, SourceReader, Table, quote

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from forgeml.project import ProjectLike

__all__ = [
    "DEFAULT_TIMESTAMP",
    "connect",
    "get_historical_features",
    "output_names",
]

DEFAULT_TIMESTAMP = "event_timestamp"
ROW = "__row"
ENTITY_ROWS = "__entity_rows"


def connect(
    memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC, with the memory limit and threads asked for."""
    try:
        import duckdb
    except ImportError as e:
        raise MissingDependency("duckdb", "featurestore", "the feature store") from e

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
    except duckdb.Error as e:
        raise ConfigError(
            f"DuckDB refused memory limit {memory_limit!r}: {e}",
            fix="give a size such as 500MB or 4GB",
        ) from e
    return con


def _checked_size(text: str) -> str:
    value = str(text).strip()
    if not value or not all(c.isalnum() or c in ". " for c in value):
        raise ConfigError(f"{text!r} is not a memory size", fix="give a size such as 500MB or 4GB")
    return value


def get_historical_features(
    entity_df: pd.DataFrame | None,
    features: str | Sequence[str],
    *,
    registry: FeatureRegistry | None = None,
    project: ProjectLike = None,
    tables: Mapping[str, Table] | None = None,
    timestamp: str = DEFAULT_TIMESTAMP,
    known_as_of: bool = False,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """``entity_df`` with one column per feature, each as of its row's ``timestamp``.

    ``features`` is a feature service name or ``view:feature`` references. Every entity row
    and column is kept, in order; a feature column is named after the feature, or
    ``view__feature`` where that name is taken. Without ``entity_df``, the rows are every
    entity key and event timestamp of the views' sources between ``start`` and ``end``.
    On-demand views are computed from the joined features and the entity rows' columns.
    The frame's ``attrs["feature_views"]`` records the dataset versions read, and
    ``attrs["feature_columns"]`` the ``view:feature`` of each feature column.
    """
    import pandas as pd

    if registry is None:
        registry = _project_registry(project)
    resolved = registry.resolve(features)
    fetched = registry.fetched(resolved)
    con = connect(memory_limit)
    try:
        reader = SourceReader(con, project, tables)
        if entity_df is None:
            entity_df = _entity_rows_in_range(con, reader, registry, fetched, timestamp, start, end)
        keys = sorted({k for view, _ in fetched for k in registry.join_keys(view)})
        table = _register_entity_rows(con, entity_df, keys, timestamp)
        prepared: dict[tuple[str, ...], EntityRows] = {}  # per key set, shared by its views

        def rows(view_keys: Sequence[str]) -> EntityRows:
            found = prepared.get(tuple(view_keys))
            if found is None:
                found = prepared[tuple(view_keys)] = EntityRows(table, view_keys)
            return found

        joined: dict[tuple[str, str], Any] = {}
        # A view's rows are matched in a worker thread while the next view's source is read:
        # at most two sources are in memory at once.
        previous: list[Future[dict[tuple[str, str], Any]]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="forgeml-asof") as pool:
            for view, chosen in fetched:
                relation = reader.relation(view)
                current = _join_view(con, registry, view, chosen, relation, rows, known_as_of, pool)
                for future in previous:
                    joined.update(future.result())
                previous = current
            for future in previous:
                joined.update(future.result())
        versions = dict(reader.versions)
    finally:
        con.close()
    for transform, _outputs in registry.transforms(resolved):
        inputs = {feature: joined[(view, feature)] for view, feature in transform.view_inputs}
        inputs |= {f: entity_df[f] for f in transform.request_fields if f in entity_df.columns}
        computed = transform.compute(inputs, len(entity_df))
        joined.update({(transform.name, name): column for name, column in computed.items()})
    names = output_names(list(entity_df.columns), resolved)
    added = {
        names[(view.name, f.name)]: joined[(view.name, f.name)]
        for view, chosen in resolved
        for f in chosen
    }
    features_frame = pd.DataFrame(added).set_axis(entity_df.index)  # values are in row order
    frame: pd.DataFrame = pd.concat([entity_df, features_frame], axis=1)
    frame.attrs["feature_views"] = versions
    frame.attrs["feature_columns"] = {
        names[(view.name, f.name)]: f"{view.name}:{f.name}"
        for view, chosen in resolved
        for f in chosen
    }
    return frame


def _project_registry(project: ProjectLike) -> FeatureRegistry:
    from forgeml.project import resolve_project

    return FeatureRegistry.from_spec(resolve_project(project).spec)


def output_names(
    taken: Sequence[str],
    resolved: Sequence[tuple[FeatureView | OnDemandView, Sequence[Feature | Output]]],
) -> dict[tuple[str, str], str]:
    """``feature``, or ``view__feature`` when another view or an entity column has the name.

    >>> from forgeml.featurestore.definitions import FeatureView
    >>> a = FeatureView("a", entity="e", source="s", timestamp="t", features=["x", "y"])
    >>> b = FeatureView("b", entity="e", source="s", timestamp="t", features=["x"])
    >>> sorted(output_names(["y"], [(a, a.parsed), (b, b.parsed)]).values())
    ['a__x', 'a__y', 'b__x']
    """
    counts: dict[str, int] = {}
    for _view, chosen in resolved:
        for feature in chosen:
            counts[feature.name] = counts.get(feature.name, 0) + 1
    names = {}
    for view, chosen in resolved:
        for feature in chosen:
            clash = counts[feature.name] > 1 or feature.name in taken
            names[(view.name, feature.name)] = (
                f"{view.name}__{feature.name}" if clash else feature.name
            )
    return names


def _utc_naive(values: pd.Series, where: str) -> pd.Series:
    """Timestamps in UTC without a zone (naive ones are taken as UTC already)."""
    import pandas as pd

    if not isinstance(values.dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_dtype(
        values.dtype
    ):
        try:
            values = pd.to_datetime(values, utc=True, format="mixed")
        except (ValueError, TypeError) as e:
            raise DataError(
                f"{where} holds values that are not timestamps: {e}",
                fix="give ISO 8601 timestamps such as 2024-05-01T12:00:00Z",
            ) from None
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[us]")


def _register_entity_rows(
    con: duckdb.DuckDBPyConnection, entity_df: pd.DataFrame, keys: Sequence[str], timestamp: str
) -> pa.Table:
    """The entity rows' keys, ``__ts`` and ``__row``, registered in DuckDB as well."""
    import pandas as pd
    import pyarrow as pa

    missing = [c for c in (*keys, timestamp) if c not in entity_df.columns]
    if missing:
        raise DataError(
            f"the entity rows have no column {', '.join(map(repr, missing))} "
            f"(they have {', '.join(map(str, entity_df.columns))})",
            fix="add the join key columns of the views asked for, and name the timestamp "
            "column with --timestamp",
        )
    rows = pd.DataFrame({k: entity_df[k].to_numpy() for k in keys})
    rows[TS] = _utc_naive(entity_df[timestamp], f"timestamp column {timestamp!r}").to_numpy()
    rows[ROW] = range(len(entity_df))
    table = pa.Table.from_pandas(rows, preserve_index=False)
    con.register(ENTITY_ROWS, table)
    return table


def _source_rows(
    registry: FeatureRegistry,
    view: FeatureView,
    relation: str,
    columns: Sequence[str],
    con: duckdb.DuckDBPyConnection | None = None,
) -> str:
    """The view's rows with ``__ts``, ``__created`` and ``__pos``; null timestamps dropped.

    With ``con``, time columns that already hold timestamps are read as they are (Arrow
    keeps their instants, in any zone) rather than cast: for reading into Arrow, not for
    comparing in SQL.
    """
    join_keys = registry.join_keys(view)
    keys = ", ".join(quote(k) for k in join_keys)
    created = (
        _time(con, relation, view.created_timestamp)
        if view.created_timestamp
        else "CAST(NULL AS TIMESTAMP)"
    )
    picked = "".join(f", {quote(c)}" for c in dict.fromkeys(columns) if c not in join_keys)
    return (
        f"SELECT {keys}, {_time(con, relation, view.timestamp)} AS {TS}, "
        f"{created} AS {CREATED}, {POSITION}{picked} "
        f"FROM {relation} WHERE {quote(view.timestamp)} IS NOT NULL"
    )


def _time(con: duckdb.DuckDBPyConnection | None, relation: str, column: str) -> str:
    if con is not None:
        kind = str(con.sql(f"SELECT {quote(column)} FROM {relation} LIMIT 0").types[0])
        if kind.startswith("TIMESTAMP"):
            return quote(column)
    return f"CAST({quote(column)} AS TIMESTAMP)"


def _join_view(
    con: duckdb.DuckDBPyConnection,
    registry: FeatureRegistry,
    view: FeatureView,
    chosen: Sequence[Feature],
    relation: str,
    rows: Callable[[Sequence[str]], EntityRows],
    known_as_of: bool,
    pool: Executor,
) -> list[Future[dict[tuple[str, str], Any]]]:
    """The chosen features of one view for every entity row, as arrays in row order, keyed
    by (view, feature); column features are matched in ``pool``."""
    import duckdb

    done: dict[tuple[str, str], Any] = {}
    pending: list[Future[dict[tuple[str, str], Any]]] = []
    plain = [f for f in chosen if isinstance(f, Column)]
    windowed = [f for f in chosen if isinstance(f, Aggregation)]
    try:
        if plain and not known_as_of:
            columns = [f.column for f in plain]
            source = con.sql(_source_rows(registry, view, relation, columns, con))
            table = source.to_arrow_table()
            ttl = view.ttl_span
            ttl_us = ttl // timedelta(microseconds=1) if ttl is not None else None
            matcher = rows(registry.join_keys(view))
            pending.append(pool.submit(_latest, matcher, table, view.name, plain, ttl_us))
        elif plain:
            sql = _known_as_of_sql(registry, view, plain, relation)
            table = con.sql(sql).to_arrow_table()
            done.update({(view.name, f.name): table.column(f.name).to_pandas() for f in plain})
        if windowed:
            sql = _window_sql(registry, view, windowed, relation, known_as_of)
            table = con.sql(sql).to_arrow_table()
            done.update({(view.name, f.name): table.column(f.name).to_pandas() for f in windowed})
    except duckdb.Error as e:
        raise DataError(
            f"feature view {view.name!r} could not be joined: {str(e).splitlines()[0]}",
            fix=f"check that its source has the columns it names ({view.timestamp}, "
            f"{', '.join(registry.join_keys(view))}, the features) and that the entity rows' "
            "key types match the source's",
        ) from None
    finished: Future[dict[tuple[str, str], Any]] = Future()
    finished.set_result(done)
    return [*pending, finished]


def _latest(
    rows: EntityRows, source: pa.Table, view: str, plain: Sequence[Column], ttl_us: int | None
) -> dict[tuple[str, str], Any]:
    index = rows.latest(source, ttl_us)
    return {(view, f.name): source.column(f.column).take(index).to_pandas() for f in plain}


def _key_match(registry: FeatureRegistry, view: FeatureView, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{quote(k)} = {right}.{quote(k)}" for k in registry.join_keys(view))


def _interval(seconds: float) -> str:
    return f"INTERVAL {int(seconds)} SECOND"


def _known_as_of_sql(
    registry: FeatureRegistry, view: FeatureView, chosen: Sequence[Column], relation: str
) -> str:
    """The latest row known at each entity row's time: written (created) by then too."""
    src = _source_rows(registry, view, relation, [f.column for f in chosen])
    order = f"{CREATED} DESC NULLS LAST, {POSITION} DESC"
    ttl = view.ttl_span
    within = f" AND s.{TS} >= e.{TS} - {_interval(ttl.total_seconds())}" if ttl else ""
    picked = ", ".join(f"m.{quote(f.column)} AS {quote(f.name)}" for f in chosen)
    return (
        f"WITH src AS ({src}), matched AS (SELECT e.{ROW}, s.* FROM {ENTITY_ROWS} e JOIN src s "
        f"ON {_key_match(registry, view, 'e', 's')} AND s.{TS} <= e.{TS} "
        f"AND coalesce(s.{CREATED}, s.{TS}) <= e.{TS}{within} "
        f"QUALIFY row_number() OVER (PARTITION BY e.{ROW} ORDER BY s.{TS} DESC, {order}) = 1) "
        f"SELECT e.{ROW}, {picked} FROM {ENTITY_ROWS} e LEFT JOIN matched m "
        f"ON e.{ROW} = m.{ROW} ORDER BY e.{ROW}"
    )


def _aggregate(feature: Aggregation, within: str) -> str:
    of = f"s.{quote(feature.of)}" if feature.of else f"s.{POSITION}"
    if feature.agg == "count":
        return f"count({of}) FILTER (WHERE {within})"
    if feature.agg == "sum":
        return f"CAST(sum({of}) FILTER (WHERE {within}) AS DOUBLE)"
    if feature.agg == "mean":
        return f"avg({of}) FILTER (WHERE {within})"
    if feature.agg == "last":
        return f"arg_max({of}, (s.{TS}, s.{CREATED}, s.{POSITION})) FILTER (WHERE {within})"
    return f"{feature.agg}({of}) FILTER (WHERE {within})"


def _window_sql(
    registry: FeatureRegistry,
    view: FeatureView,
    chosen: Sequence[Aggregation],
    relation: str,
    known_as_of: bool,
) -> str:
    src = _source_rows(registry, view, relation, [f.of for f in chosen if f.of])
    widest = max(f.span.total_seconds() for f in chosen)
    known = f" AND coalesce(s.{CREATED}, s.{TS}) <= e.{TS}" if known_as_of else ""
    # Rows with one key and time are corrections of one fact when rows carry a created time:
    # the latest correction visible to the entity row counts, once.
    corrections = (
        f" QUALIFY row_number() OVER (PARTITION BY e.{ROW}, s.{TS} "
        f"ORDER BY s.{CREATED} DESC NULLS LAST, s.{POSITION} DESC) = 1"
        if view.created_timestamp
        else ""
    )
    picked = ", ".join(
        _aggregate(f, f"s.{TS} > e.{TS} - {_interval(f.span.total_seconds())}")
        + f" AS {quote(f.name)}"
        for f in chosen
    )
    return (
        f"WITH src AS ({src}), matched AS (SELECT e.{ROW}, s.* FROM {ENTITY_ROWS} e JOIN src s "
        f"ON {_key_match(registry, view, 'e', 's')} AND s.{TS} <= e.{TS} "
        f"AND s.{TS} > e.{TS} - {_interval(widest)}{known}{corrections}) "
        f"SELECT e.{ROW}, {picked} FROM {ENTITY_ROWS} e LEFT JOIN matched s "
        f"ON e.{ROW} = s.{ROW} GROUP BY e.{ROW} ORDER BY e.{ROW}"
    )


def _entity_rows_in_range(
    con: duckdb.DuckDBPyConnection,
    reader: SourceReader,
    registry: FeatureRegistry,
    resolved: Sequence[tuple[FeatureView, Sequence[Feature]]],
    timestamp: str,
    start: datetime | str | None,
    end: datetime | str | None,
) -> pd.DataFrame:
    """Every (entity key, event timestamp) of the views' sources within ``[start, end]``."""
    import pandas as pd

    entities = {view.entity for view, _ in resolved}
    if len(entities) != 1:
        raise ConfigError(
            f"retrieval without entity rows needs views of one entity; these have "
            f"{', '.join(sorted(entities))}",
            fix="ask for the views of one entity, or pass entity rows",
        )
    bounds = []
    for value, operator in ((start, ">="), (end, "<=")):
        if value is not None:
            stamp = pd.Timestamp(value)
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert("UTC").tz_localize(None)
            bounds.append(f"{TS} {operator} TIMESTAMP '{stamp.isoformat(sep=' ')}'")
    where = " AND ".join(bounds) or "TRUE"
    parts = []
    for view, _ in resolved:
        keys = ", ".join(quote(k) for k in registry.join_keys(view))
        src = _source_rows(registry, view, reader.relation(view), [])
        parts.append(f"SELECT {keys}, {TS} FROM ({src}) WHERE {where}")
    keys = ", ".join(quote(k) for k in registry.join_keys(resolved[0][0]))
    sql = f"SELECT DISTINCT * FROM ({' UNION '.join(parts)}) ORDER BY {TS}, {keys}"
    frame: pd.DataFrame = con.sql(sql).to_arrow_table().to_pandas()
    return frame.rename(columns={TS: timestamp})
