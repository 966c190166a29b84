"""The UI's reads: every list is one page, cut in SQL (a LIMIT, and keyset cursors where
lists grow without bound), so a page costs the same at ten runs as at a hundred thousand.

A list shown without pages (a run's artifacts, a model's aliases) is read one row past
its limit; only when that row exists are the rest counted, for the page's "and N more".
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, Text, cast, func, literal, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import manager_of_class

from forgeml.errors import ConfigError
from forgeml.store import registry as registry_queries
from forgeml.store import runs as run_queries
from forgeml.store.models import (
    AlertRecord,
    AliasEventRecord,
    AliasRecord,
    CycleRecord,
    DatasetRecord,
    DatasetVersionRecord,
    MetricRecord,
    ModelRecord,
    ModelVersionRecord,
    RolloutRecord,
    RunRecord,
)
from forgeml.ui.filters import column_value, parse_filter, parse_key, to_sql

__all__ = [
    "PAGE",
    "RunsPage",
    "alert_count",
    "alert_counts",
    "alerts_page",
    "champions",
    "cut",
    "cycle_count",
    "cycles_page",
    "datasets_page",
    "decode_cursor",
    "encode_cursor",
    "event_count",
    "events_page",
    "listed_aliases",
    "metric_keys",
    "metric_points",
    "models_page",
    "run_artifacts",
    "run_models",
    "runs_page",
    "versions_page",
]

PAGE = 50
MAX_PAGE = 500
Rows = TypeVar("Rows", list[Any], dict[Any, Any])
_LOW = -1e300  # where a run without the sorted value sorts (numbers)
# what lists and comparisons show of a run (its environment and code are on its own page)
_LISTED = (
    RunRecord.id,
    RunRecord.experiment,
    RunRecord.kind,
    RunRecord.status,
    RunRecord.host,
    RunRecord.pid,
    RunRecord.started_at,
    RunRecord.heartbeat_at,
)
_DOCUMENTS = ("params", "metrics", "tags")


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(text: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != 2:
        raise ConfigError("the page cursor is damaged", fix="go back to the first page")
    return values


@dataclass
class RunsPage:
    runs: list[RunRecord]
    next_cursor: str | None
    sort: str
    descending: bool
    keys: dict[str, list[str]] = field(default_factory=dict)  # section -> keys seen


def runs_page(
    session: Session,
    *,
    where: str = "",
    sort: str = "started",
    descending: bool = True,
    after: str | None = None,
    limit: int = PAGE,
) -> RunsPage:
    """One page of runs, filtered and sorted, after the keyset cursor ``after``."""
    dialect = session.get_bind().dialect.name
    limit = max(1, min(limit, MAX_PAGE))
    query = _listed_runs()
    if where.strip():
        query = query.where(to_sql(parse_filter(where), dialect))
    key_expr, kind = _sort_expression(sort, dialect)
    order = (key_expr.desc(), RunRecord.id.desc()) if descending else (key_expr, RunRecord.id)
    if after:
        value, run_id = decode_cursor(after)
        if kind == "time":
            value = datetime.fromisoformat(str(value))
        elif kind == "number":
            value = float(value) if isinstance(value, int | float) else _LOW
        else:
            value = str(value)
        bound = tuple_(key_expr, RunRecord.id)
        mark = tuple_(literal(value, key_expr.type), literal(str(run_id)))
        query = query.where(bound < mark if descending else bound > mark)
    rows = _read_runs(session, query.order_by(*order).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = encode_cursor([_sort_value(last, sort, kind), last.id])
    keys = {s: sorted({k for r in rows for k in (getattr(r, s) or {})}) for s in _SECTIONS}
    return RunsPage(rows, cursor, sort, descending, keys)


_SECTIONS = ("metrics", "params", "tags")


def _sort_expression(sort: str, dialect: str) -> tuple[ColumnElement[Any], str]:
    if sort == "started":
        return RunRecord.started_at.expression, "time"
    section, key = parse_key(sort)
    if section in ("attribute", "tags"):
        expr = column_value(section, key, dialect, numeric=False)
        return func.coalesce(expr, ""), "text"
    numeric = section == "metrics"
    expr = column_value(section, key, dialect, numeric=numeric)
    if numeric:
        return func.coalesce(expr, _LOW), "number"
    return func.coalesce(expr, ""), "text"


def _sort_value(run: RunRecord, sort: str, kind: str) -> Any:
    if kind == "time":
        return run.started_at.isoformat()
    section, key = parse_key(sort)
    raw = getattr(run, key) if section == "attribute" else (getattr(run, section) or {}).get(key)
    if kind == "number":
        if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
            return float(raw)
        return _LOW
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else orjson.dumps(raw).decode()


def cut(rows: Rows, limit: int, count: Callable[[], int]) -> tuple[Rows, int]:
    """The first ``limit`` of ``rows`` (read with one more) and how many more there are.

    ``count`` counts them all; it runs only when ``rows`` holds more than ``limit``.

    >>> cut([1, 2, 3], 2, lambda: 10), cut({"a": 1}, 2, lambda: 10)
    (([1, 2], 8), ({'a': 1}, 0))
    """
    if len(rows) <= limit:
        return rows, 0
    kept = dict(list(rows.items())[:limit]) if isinstance(rows, dict) else rows[:limit]
    return kept, max(count(), len(rows)) - limit


def metric_keys(session: Session, run_id: str, limit: int = 8) -> tuple[list[str], int]:
    """The first ``limit`` keys of the run's logged metric series, and how many more it has."""
    query = (
        select(MetricRecord.key)
        .where(MetricRecord.run_id == run_id)
        .group_by(MetricRecord.key)
        .order_by(MetricRecord.key)
        .limit(limit + 1)
    )
    every = select(func.count(func.distinct(MetricRecord.key))).where(MetricRecord.run_id == run_id)
    return cut(list(session.scalars(query)), limit, lambda: int(session.scalar(every) or 0))


def run_artifacts(session: Session, run_id: str, limit: int = 100) -> tuple[dict[str, str], int]:
    """The run's first ``limit`` artifacts by name (name -> sha256), and how many more."""
    found = run_queries.artifacts_of(session, [run_id], limit=limit + 1)[run_id]
    return cut(found, limit, lambda: run_queries.artifact_count(session, run_id))


def run_models(session: Session, run_id: str, limit: int = 20) -> tuple[list[Any], int]:
    """(model name, version) registered from the run, and how many more."""
    query = (
        select(ModelRecord.name, ModelVersionRecord.version)
        .join(ModelVersionRecord)
        .where(ModelVersionRecord.run_id == run_id)
        .order_by(ModelRecord.name, ModelVersionRecord.version)
    )
    every = select(func.count()).where(ModelVersionRecord.run_id == run_id)
    rows = list(session.execute(query.limit(limit + 1)).all())
    return cut(rows, limit, lambda: int(session.scalar(every) or 0))


def metric_points(
    session: Session, run_ids: list[str], key: str, limit: int = 2000
) -> dict[str, list[tuple[int, float]]]:
    """run id -> (step, value) of metric ``key`` (at most ``limit`` points per run)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for run_id in run_ids:
        rows = session.execute(
            select(MetricRecord.step, MetricRecord.value)
            .where(MetricRecord.run_id == run_id, MetricRecord.key == key)
            .order_by(MetricRecord.step, MetricRecord.id)
            .limit(limit)
        )
        out[run_id] = [(int(s), float(v)) for s, v in rows if v is not None]
    return out


def datasets_page(
    session: Session, after: str | None = None, limit: int = PAGE
) -> tuple[list[Any], str | None]:
    """One page of datasets by name after ``after``: (name, version count, newest version,
    newest version's time), and the cursor of the next page (None on the last)."""
    query = (
        select(
            DatasetRecord.name,
            func.count(DatasetVersionRecord.id),
            func.max(DatasetVersionRecord.version),
            func.max(DatasetVersionRecord.created_at),
        )
        .join(DatasetVersionRecord)
        .group_by(DatasetRecord.name)
        .order_by(DatasetRecord.name)
    )
    if after:
        query = query.where(DatasetRecord.name > after)
    rows = list(session.execute(query.limit(limit + 1)).all())
    return rows[:limit], (rows[limit - 1][0] if len(rows) > limit else None)


def dataset_versions(
    session: Session, name: str, before: int | None = None, limit: int = PAGE
) -> tuple[list[DatasetVersionRecord], int | None]:
    """One page of the dataset's versions, newest first, and the next page's cursor."""
    query = (
        select(DatasetVersionRecord)
        .join(DatasetRecord)
        .where(DatasetRecord.name == name)
        .order_by(DatasetVersionRecord.version.desc())
    )
    if before is not None:
        query = query.where(DatasetVersionRecord.version < before)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].version if len(rows) > limit else None)


def models_page(
    session: Session, after: str | None = None, limit: int = PAGE
) -> tuple[list[ModelRecord], str | None]:
    """One page of models by name after ``after``, and the next page's cursor."""
    query = select(ModelRecord).order_by(ModelRecord.name)
    if after:
        query = query.where(ModelRecord.name > after)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].name if len(rows) > limit else None)


def champions(session: Session, model_ids: list[int]) -> dict[int, int]:
    """model id -> the version its champion alias is on (models without one left out)."""
    if not model_ids:
        return {}
    rows = session.execute(
        select(AliasRecord.model_id, ModelVersionRecord.version)
        .join(ModelVersionRecord, AliasRecord.model_version_id == ModelVersionRecord.id)
        .where(AliasRecord.model_id.in_(model_ids), AliasRecord.alias == "champion")
        .limit(len(model_ids))
    )
    return {int(model_id): int(version) for model_id, version in rows}


def listed_aliases(
    session: Session, model_id: int, limit: int = 20, version: int | None = None
) -> tuple[dict[str, int], int]:
    """The model's first ``limit`` aliases by name (on ``version`` only), and how many more."""
    held = registry_queries.aliases(session, model_id, version=version, limit=limit + 1)
    every = functools.partial(registry_queries.alias_count, session, model_id, version=version)
    return cut(held, limit, every)


def latest_version(session: Session, model_id: int) -> ModelVersionRecord | None:
    query = (
        select(ModelVersionRecord)
        .where(ModelVersionRecord.model_id == model_id)
        .order_by(ModelVersionRecord.version.desc())
        .limit(1)
    )
    return session.scalars(query).one_or_none()


def version_of(session: Session, model_id: int, version: int) -> ModelVersionRecord | None:
    query = select(ModelVersionRecord).where(
        ModelVersionRecord.model_id == model_id, ModelVersionRecord.version == version
    )
    return session.scalars(query.limit(1)).one_or_none()


def versions_page(
    session: Session, model_id: int, before: int | None = None, limit: int = PAGE
) -> tuple[list[ModelVersionRecord], int | None]:
    """One page of the model's versions, newest first, before version ``before``, and the
    cursor of the next page (None on the last)."""
    query = (
        select(ModelVersionRecord)
        .where(ModelVersionRecord.model_id == model_id)
        .order_by(ModelVersionRecord.version.desc())
    )
    if before is not None:
        query = query.where(ModelVersionRecord.version < before)
    rows = list(session.scalars(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].version if len(rows) > limit else None)


def events_page(
    session: Session,
    model_id: int,
    before: int | None = None,
    limit: int = PAGE,
    version: int | None = None,
) -> tuple[list[AliasEventRecord], int | None]:
    """The audit trail of the model's aliases, newest first (moves to ``version`` only),
    and the cursor of the next page (None on the last)."""
    query = select(AliasEventRecord).where(AliasEventRecord.model_id == model_id)
    if version is not None:
        query = query.where(AliasEventRecord.to_version == version)
    if before is not None:
        query = query.where(AliasEventRecord.id < before)
    rows = list(session.scalars(query.order_by(AliasEventRecord.id.desc()).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def event_count(session: Session, model_id: int, version: int | None = None) -> int:
    """How many alias moves the model's audit trail holds (moves to ``version`` only)."""
    query = select(func.count()).select_from(AliasEventRecord)
    query = query.where(AliasEventRecord.model_id == model_id)
    if version is not None:
        query = query.where(AliasEventRecord.to_version == version)
    return int(session.scalar(query) or 0)


def rollouts_page(session: Session, model_id: int, limit: int = 10) -> list[RolloutRecord]:
    query = select(RolloutRecord).where(RolloutRecord.model_id == model_id)
    return list(session.scalars(query.order_by(RolloutRecord.id.desc()).limit(limit)))


def alerts_page(session: Session, model: str | None = None, limit: int = PAGE) -> list[AlertRecord]:
    query = select(AlertRecord)
    if model is not None:
        query = query.where(AlertRecord.model == model)
    return list(session.scalars(query.order_by(AlertRecord.id.desc()).limit(limit)))


def alert_count(session: Session, model: str) -> int:
    """Every alert of the model, delivered or not."""
    query = select(func.count()).select_from(AlertRecord).where(AlertRecord.model == model)
    return int(session.scalar(query) or 0)


def alert_counts(session: Session, models: list[str]) -> dict[str, int]:
    """Undelivered alerts per model."""
    if not models:
        return {}
    rows = session.execute(
        select(AlertRecord.model, func.count(AlertRecord.id))
        .where(AlertRecord.model.in_(models), AlertRecord.delivered_at.is_(None))
        .group_by(AlertRecord.model)
        .limit(len(models))
    )
    return {model: int(count) for model, count in rows}


def cycles_page(session: Session, model: str, limit: int = 20) -> list[CycleRecord]:
    query = select(CycleRecord).where(CycleRecord.model == model)
    return list(session.scalars(query.order_by(CycleRecord.id.desc()).limit(limit)))


def cycle_count(session: Session, model: str) -> int:
    query = select(func.count()).select_from(CycleRecord).where(CycleRecord.model == model)
    return int(session.scalar(query) or 0)


def runs_by_id(session: Session, ids: list[str]) -> list[RunRecord]:
    """The runs whose full ids are ``ids``, in that order (unknown ids left out)."""
    if not ids:
        return []
    query = _listed_runs().where(RunRecord.id.in_(ids)).limit(len(ids))
    found = {r.id: r for r in _read_runs(session, query)}
    return [found[i] for i in ids if i in found]


def _listed_runs() -> Select[*tuple[Any, ...]]:
    """What a list shows of each run; its documents come as text, for :func:`_read_runs`."""
    texts = [cast(getattr(RunRecord, name), Text).label(name) for name in _DOCUMENTS]
    return select(*_LISTED, *texts)


def _read_runs(session: Session, query: Select[*tuple[Any, ...]]) -> list[RunRecord]:
    """Detached runs from the rows of :func:`_listed_runs` (read-only, never flushed).

    Pages show hundreds of runs of hundreds of params and metrics each: their documents
    are decoded with orjson, several times faster than the driver's JSON decoding, and the
    runs are filled the way the ORM fills loaded rows, without its per-attribute events.
    """
    manager = manager_of_class(RunRecord)
    result = session.execute(query)
    names = list(result.keys())
    runs = []
    for row in result:
        run: RunRecord = manager.new_instance()
        values = run.__dict__
        values.update(zip(names, row, strict=True))
        for name in _DOCUMENTS:
            values[name] = _document(values[name])
        runs.append(run)
    return runs


def _document(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, which Python's json writes
        value = json.loads(text)
    return value if isinstance(value, dict) else {}
