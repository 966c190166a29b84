"""What each page shows: one function per page, returning its template and context.

Views read lists through :mod:`forgeml.ui.queries` (every list one page in SQL) and single
rows through the store's own lookups, and build charts with :mod:`forgeml.report.charts`
(drawn in the browser); they never write. Actions live in :mod:`forgeml.ui.actions`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

from forgeml.errors import ConfigError, NotFound
from forgeml.project import Project
from forgeml.report import charts
from forgeml.report.states import alias_sentence, cycle_sentence, rollout_sentence
from forgeml.store import datasets as dataset_queries
from forgeml.store import registry as registry_queries
from forgeml.store import runs as run_queries
from forgeml.store import windows as window_queries
from forgeml.store.models import RunRecord
from forgeml.ui import queries
from forgeml.ui.filters import parse_key

__all__ = ["PAGES", "Page"]

Page = tuple[str, dict[str, Any]]
Params = Mapping[str, str]
MAX_COMPARE = 500
MAX_AXES = 12
DEFAULT_COLUMNS = 6
MONITOR_WINDOWS = 120  # the newest windows drawn; older ones are a page away
TABLE_ROWS = 40  # columns of the comparison table per page
LISTED_ALIASES = 20  # aliases a list of models shows per model
MODEL_ALIASES = 100  # aliases the model page shows
CURVES = 8  # metric curves a run page draws
RUN_ARTIFACTS = 100  # artifacts a run page lists
RUN_MODELS = 20  # model versions registered from a run that its page lists
ALERTS = 50  # the newest alerts the monitoring page lists
CYCLES = 20  # the newest loop cycles the monitoring page lists
VERSION_EVENTS = 20  # the newest alias moves to a version that its page lists
VALIDATION_RULES = 200  # validation rules a dataset page lists
_SECTIONS = ("params", "metrics", "tags")


def home(project: Project, params: Params) -> Page:
    with project.store.read() as session:
        models, after = queries.models_page(session, params.get("after") or None)
        champions = queries.champions(session, [m.id for m in models])
        alerts = queries.alert_counts(session, [m.name for m in models])
        rows = []
        for model in models:
            champion = champions.get(model.id)
            version = (
                queries.version_of(session, model.id, champion)
                if champion is not None
                else queries.latest_version(session, model.id)
            )
            rollout = queries.rollouts_page(session, model.id, limit=1)
            cycle = queries.cycles_page(session, model.name, limit=1)
            rows.append(
                {
                    "name": model.name,
                    "champion": champion,
                    "metrics": _test_metrics(version.metrics if version else {}),
                    "rollout": rollout[0] if rollout and rollout[0].status == "active" else None,
                    "alerts": alerts.get(model.name, 0),
                    "cycle": cycle[0] if cycle else None,
                    "cycle_text": cycle_sentence(cycle[0].status, cycle[0].stage, cycle[0].details)
                    if cycle
                    else "",
                }
            )
        runs = queries.runs_page(session, limit=10).runs
        datasets, _ = queries.datasets_page(session, limit=10)
    return "home.html", {
        "models": rows,
        "next_models": after,
        "runs": runs,
        "datasets": datasets,
        "project": project.spec.project,
    }


def datasets(project: Project, params: Params) -> Page:
    with project.store.read() as session:
        rows, after = queries.datasets_page(session, params.get("after") or None)
    return "datasets.html", {"datasets": rows, "next": after}


def dataset(project: Project, params: Params, name: str) -> Page:
    before = _int(params.get("before"), "before")
    with project.store.read() as session:
        shown = dataset_queries.get_version(session, name, _int(params.get("version"), "version"))
        versions, more = queries.dataset_versions(session, name, before)
    columns = []
    profile = shown.profile or {}
    for column in (shown.schema or {}).get("columns", []):
        cname = str(column.get("name"))
        summary = (profile.get("columns") or {}).get(cname) or {}
        columns.append(
            {
                "name": cname,
                "schema": {k: v for k, v in column.items() if k != "name"},
                "summary": {k: v for k, v in summary.items() if not isinstance(v, list | dict)},
                "chart": _histogram(cname, summary),
            }
        )
    validation, more_rules = _validation(profile)
    return "dataset.html", {
        "name": name,
        "shown": shown,
        "versions": versions,
        "next": more,
        "columns": columns,
        "validation": validation,
        "more_rules": more_rules,
    }


def runs(project: Project, params: Params) -> Page:
    where = params.get("filter", "").strip()
    sort = params.get("sort", "started") or "started"
    order = params.get("order", "desc")
    error = None
    limit = _int(params.get("limit"), "limit") or queries.PAGE
    with project.store.read() as session:
        try:
            page = queries.runs_page(
                session,
                where=where,
                sort=sort,
                descending=order != "asc",
                after=params.get("after") or None,
                limit=limit,
            )
        except ConfigError as e:
            error = e
            page = queries.runs_page(session)
    chosen = [c for c in params.get("cols", "").split(",") if c.strip()]
    for column in chosen:
        parse_key(column)  # refuses what is not a run field
    if not chosen:
        chosen = [f"metrics.{k}" for k in page.keys.get("metrics", [])[:DEFAULT_COLUMNS]]
        if "candidate" in page.keys.get("params", []):
            chosen.insert(0, "params.candidate")
    options = [f"{s}.{k}" for s, keys in page.keys.items() for k in keys]
    table = [
        {
            "run": run,
            "status": run_queries.shown_status(run),
            "cells": [_cell(run, column) for column in chosen],
        }
        for run in page.runs
    ]
    return "runs.html", {
        "rows": table,
        "columns": chosen,
        "options": sorted(set(options) | set(chosen)),
        "filter": where,
        "sort": sort,
        "order": "asc" if order == "asc" else "desc",
        "next": page.next_cursor,
        "error": error,
        "partial": params.get("partial") == "rows",
        "limit": min(limit, queries.MAX_PAGE),
    }


def run(project: Project, params: Params, run_id: str) -> Page:
    with project.store.read() as session:
        record = run_queries.get_run(session, run_id)
        keys, more_curves = queries.metric_keys(session, record.id, limit=CURVES)
        curves = []
        for key in keys:
            points = queries.metric_points(session, [record.id], key)[record.id]
            if len(points) > 1:
                curves.append(_curve(key, {record.id[:8]: points}))
        artifacts, more_artifacts = queries.run_artifacts(session, record.id, RUN_ARTIFACTS)
        dataset_ref = run_queries.dataset_refs(session, [record.dataset_version_id]).get(
            record.dataset_version_id or -1
        )
        models, more_models = queries.run_models(session, record.id, RUN_MODELS)
    return "run.html", {
        "run": record,
        "status": run_queries.shown_status(record),
        "curves": curves,
        "more_curves": more_curves,
        "artifacts": artifacts,
        "more_artifacts": more_artifacts,
        "dataset": dataset_ref,
        "models": models,
        "more_models": more_models,
    }


def compare(project: Project, params: Params) -> Page:
    ids = [i.strip().lower() for i in params.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise ConfigError("no runs to compare", fix="tick runs on /runs, then press Compare")
    if len(ids) > MAX_COMPARE:
        raise ConfigError(
            f"{len(ids)} runs is more than the {MAX_COMPARE} a comparison shows",
            fix="narrow the runs list with a filter first",
        )
    with project.store.read() as session:
        found = queries.runs_by_id(session, [i for i in ids if len(i) == 32])
        for short in [i for i in ids if len(i) != 32]:
            found.append(run_queries.get_run(session, short))
        curve_key = params.get("curve", "")
        curve = None
        if curve_key:
            points = queries.metric_points(session, [r.id for r in found[:20]], curve_key)
            curve = _curve(curve_key, {k[:8]: v for k, v in points.items() if v})
    names = [r.id[:8] for r in found]
    cells = _columns(found)
    columns = sorted(cells, key=_column_order)
    different = [c for c in columns if _differ(cells[c])]
    numeric = [c for c in columns if _all_numbers(cells[c])]
    missing = [None] * len(found)
    axes = [c for c in numeric if c in different][:MAX_AXES] or numeric[:MAX_AXES]
    x_axis = params.get("x") or (axes[0] if axes else "")
    y_axis = params.get("y") or (axes[1] if len(axes) > 1 else x_axis)
    for column in (x_axis, y_axis):
        if column:
            parse_key(column)
    parallel = charts.parallel_coordinates(
        [a.split(".", 1)[1] for a in axes],
        [(name, [_number(cells[a][i]) for a in axes]) for i, name in enumerate(names)],
        title=f"{len(found)} runs across {len(axes)} columns",
    )
    scatter = charts.scatter(
        [_number(v) for v in cells.get(x_axis, missing)],
        [_number(v) for v in cells.get(y_axis, missing)],
        labels=names,
        x_label=x_axis,
        y_label=y_axis,
        title=f"{y_axis} against {x_axis}",
    )
    only_diff = params.get("diff", "1") == "1"
    shown = different if only_diff else columns
    offset = _int(params.get("from"), "from") or 0
    page_columns = shown[offset : offset + TABLE_ROWS]
    table = [(c, _table_cells(cells[c])) for c in page_columns]
    curve_keys = [c.split(".", 1)[1] for c in columns if c.startswith("metrics.")]
    return "compare.html", {
        "runs": found,
        "ids": ",".join(r.id for r in found),
        "parallel": parallel,
        "scatter": scatter,
        "numeric": numeric,
        "x": x_axis,
        "y": y_axis,
        "table": table,
        "table_from": offset,
        "table_next": offset + TABLE_ROWS if offset + TABLE_ROWS < len(shown) else None,
        "table_total": len(shown),
        "only_diff": only_diff,
        "curve": curve,
        "curve_key": curve_key,
        "curve_keys": curve_keys,
    }


def models(project: Project, params: Params) -> Page:
    with project.store.read() as session:
        rows, after = queries.models_page(session, params.get("after") or None)
        table = []
        for m in rows:
            held, more = queries.listed_aliases(session, m.id, LISTED_ALIASES)
            latest = queries.latest_version(session, m.id)
            table.append({"name": m.name, "aliases": held, "more": more, "latest": latest})
    return "models.html", {"models": table, "next": after}


def model(project: Project, params: Params, name: str, *, actions: bool) -> Page:
    before = _int(params.get("before"), "before")
    events_before = _int(params.get("events_before"), "events_before")
    with project.store.read() as session:
        record = registry_queries.get_model(session, name)
        held, more_aliases = queries.listed_aliases(session, record.id, MODEL_ALIASES)
        versions, more = queries.versions_page(session, record.id, before)
        events, more_events = queries.events_page(session, record.id, events_before)
        rollouts = queries.rollouts_page(session, record.id)
        numbers = {r.model_version_id for r in rollouts}
        version_numbers = {vid: registry_queries.version_number(session, vid) for vid in numbers}
    by_version: dict[int, list[str]] = {}
    for alias, number in held.items():
        by_version.setdefault(number, []).append(alias)
    return "model.html", {
        "name": name,
        "aliases": held,
        "more_aliases": more_aliases,
        "by_version": by_version,
        "versions": [(v, _test_metrics(v.metrics), _gate_passed(v.lineage)) for v in versions],
        "next": more,
        "events": [(e, alias_sentence(e.action)) for e in events],
        "next_events": more_events,
        "rollouts": [
            (r, version_numbers.get(r.model_version_id), rollout_sentence(r.status))
            for r in rollouts
        ],
        "active": next((r for r in rollouts if r.status == "active"), None),
        "actions": actions,
        "message": params.get("done", ""),
    }


def version(project: Project, params: Params, name: str, number: int) -> Page:
    with project.store.read() as session:
        record = registry_queries.get_model(session, name)
        row = registry_queries.get_version(session, record, number)
        held, more_aliases = queries.listed_aliases(session, record.id, MODEL_ALIASES, number)
        events, older = queries.events_page(
            session, record.id, version=number, limit=VERSION_EVENTS
        )
        more_events = queries.event_count(session, record.id, number) - len(events) if older else 0
    gate = _gate(row.lineage, events)
    return "version.html", {
        "name": name,
        "version": row,
        "aliases": list(held),
        "more_aliases": more_aliases,
        "more_events": more_events,
        "metrics": _flat(row.metrics),
        "lineage": _flat(row.lineage),
        "inputs": (row.signature or {}).get("inputs", []),
        "gate": gate,
        "events": [(e, alias_sentence(e.action)) for e in events],
    }


def monitoring(project: Project, params: Params, name: str) -> Page:
    with project.store.read() as session:
        registry_queries.get_model(session, name)  # NotFound for an unknown model
        windows = window_queries.latest(
            session, name, limit=MONITOR_WINDOWS, before=_time(params.get("before"))
        )
        alerts, more_alerts = queries.cut(
            queries.alerts_page(session, name, limit=ALERTS + 1),
            ALERTS,
            lambda: queries.alert_count(session, name),
        )
        cycles, more_cycles = queries.cut(
            queries.cycles_page(session, name, limit=CYCLES + 1),
            CYCLES,
            lambda: queries.cycle_count(session, name),
        )
    starts = [_aware(w.window_start) for w in windows]
    drift = charts.line_chart(
        [charts.Series("drift share", starts, [w.drift_share for w in windows], markers=True)],
        x_label="window start",
        y_label="share of inputs drifted",
        title="Drift share per window",
        y_range=(0.0, 1.0),
        percent=True,
    )
    metric = windows[-1].metric if windows else "metric"
    performance = charts.line_chart(
        [charts.Series(metric, starts, [w.metric_value for w in windows], markers=True)],
        x_label="window start",
        y_label=metric,
        title=f"{metric} per window (once labels arrive)",
    )
    recent = windows[-40:]
    features = sorted({f for w in recent for f in (w.features or {})})[:40]
    heat = [
        (
            feature,
            [
                (
                    w.window_start.strftime("%Y-%m-%d"),
                    (w.features or {}).get(feature, {}).get("effect"),
                    bool((w.features or {}).get(feature, {}).get("drifted")),
                )
                for w in recent
            ],
        )
        for feature in features
    ]
    return "monitoring.html", {
        "name": name,
        "windows": list(reversed(windows[-30:])),
        "count": len(windows),
        "older": windows[0].window_start.isoformat() if len(windows) == MONITOR_WINDOWS else None,
        "drift": drift,
        "performance": performance,
        "heat": heat,
        "heat_colour": _heat_colour,
        "alerts": alerts,
        "more_alerts": more_alerts,
        "cycles": [(c, cycle_sentence(c.status, c.stage, c.details or {})) for c in cycles],
        "more_cycles": more_cycles,
        "reports": report_files(project),
    }


def report_files(project: Project) -> list[str]:
    """The first 50 HTML reports by name in the project's folder (the demo writes its pages
    there); the only files ``/reports/`` serves."""
    return sorted(p.name for p in project.root.glob("*.html") if p.is_file())[:50]


# ---- helpers ----------------------------------------------------------------------------


def _int(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"{what}={value!r} is not a whole number", fix=f"give {what} as 1, 2, ..."
        ) from None


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"before={value!r} is not a time",
            fix="give an ISO time, e.g. 2025-03-01T00:00:00+00:00",
        ) from None
    return _aware(parsed)


def _raw(run: RunRecord, column: str) -> Any:
    if not column:
        return None
    section, key = parse_key(column)
    if section == "attribute":
        return getattr(run, key)
    return (getattr(run, section) or {}).get(key)


def _cell(run: RunRecord, column: str) -> str:
    return _show(_raw(run, column))


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".4g")  # tables of hundreds of runs: the cheap spelling
    return str(value)


def _column_order(column: str) -> tuple[int, str]:
    section, _, key = column.partition(".")
    return _SECTIONS.index(section), key


def _columns(runs: list[RunRecord]) -> dict[str, list[Any]]:
    """Each ``section.key`` column of ``runs``, one value per run (None where absent)."""
    cells: dict[str, list[Any]] = {}
    for section in _SECTIONS:
        found: dict[str, list[Any]] = {}
        for i, run in enumerate(runs):
            for key, value in (getattr(run, section) or {}).items():
                column = found.get(key)
                if column is None:
                    column = found[key] = [None] * len(runs)
                column[i] = value
        cells.update((f"{section}.{key}", column) for key, column in found.items())
    return cells


def _table_cells(values: list[Any]) -> Markup:
    """One table row's cells, written at once: a comparison shows thousands of them."""
    return Markup("".join(f"<td>{_safe_cell(v)}</td>" for v in values))


def _safe_cell(value: Any) -> str:
    if type(value) in (float, int, bool) or value is None:  # digits, signs, "e", "."; no markup
        return _show(value)
    return str(escape(_show(value)))


def _differ(values: list[Any]) -> bool:
    try:
        return len(set(values)) > 1
    except TypeError:  # lists or mappings as values
        return len({repr(v) for v in values}) > 1


def _all_numbers(values: list[Any]) -> bool:
    """Some values are finite numbers and every other one is missing."""
    kinds = set(map(type, values))  # exact types: JSON gives int and float; a bool is no number
    kinds.discard(type(None))
    if not kinds or not kinds <= {int, float}:
        return False
    present = [v for v in values if v is not None]
    # one sum says the common case: any NaN or infinity makes it non-finite
    return math.isfinite(sum(present)) or all(math.isfinite(v) for v in present)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _test_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    test = metrics.get("test") if isinstance(metrics.get("test"), Mapping) else metrics
    return {
        k: v for k, v in (test or {}).items() if isinstance(v, int | float) and k != "threshold"
    }


def _flat(document: Mapping[str, Any] | None, prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in (document or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and len(rows) < 400:
            rows += _flat(value, name + ".")
        elif isinstance(value, list):
            rows.append((name, ", ".join(str(v) for v in value[:20])))
        else:
            rows.append((name, value))
    return rows[:400]


def _gate_passed(lineage: Mapping[str, Any] | None) -> bool | None:
    gate = (lineage or {}).get("gate")
    if isinstance(gate, Mapping) and "passed" in gate:
        return bool(gate["passed"])
    return None


def _gate(lineage: Mapping[str, Any] | None, events: list[Any]) -> Mapping[str, Any] | None:
    gate = (lineage or {}).get("gate")
    if isinstance(gate, Mapping):
        return gate
    for event in events:
        if isinstance(event.gate, Mapping):
            return event.gate
    return None


def _curve(key: str, points: Mapping[str, list[tuple[int, float]]]) -> Markup:
    series = [
        charts.Series(name, [float(s) for s, _ in pts], [v for _, v in pts])
        for name, pts in points.items()
        if pts
    ]
    return charts.line_chart(series, x_label="step", y_label=key, title=key, integer_x=True)


def _heat_colour(effect: float | None, drifted: bool) -> str:
    """A cell colour for a per-feature drift effect size (red when the feature drifted)."""
    if effect is None:
        return "#f3f4f6"
    strength = max(0.08, min(1.0, effect * 4))
    hue = "220,38,38" if drifted else "37,99,235"
    return f"rgba({hue},{strength:.2f})"


def _validation(profile: Mapping[str, Any]) -> tuple[list[dict[str, str]] | None, int]:
    """The rules ingest checked, as (rule, column, result) rows, and how many more there are;
    None for a version stored before ingest kept them."""
    rules = profile.get("validation")
    if not isinstance(rules, list):
        return None, 0
    rows = [
        {k: str(rule.get(k, "")) for k in ("rule", "column", "result")}
        for rule in rules[:VALIDATION_RULES]
        if isinstance(rule, Mapping)
    ]
    return rows, max(0, len(rules) - VALIDATION_RULES)


def _histogram(name: str, summary: Mapping[str, Any]) -> Markup | None:
    """A column's profile as bars: its histogram (numbers) or its top values (categories)."""
    from forgeml.report.text import interval_labels

    histogram = summary.get("histogram")
    if isinstance(histogram, Mapping):
        counts, edges = histogram.get("counts"), histogram.get("edges")
        if isinstance(counts, list) and isinstance(edges, list) and len(edges) == len(counts) + 1:
            labels = interval_labels([float(e) for e in edges])
            return charts.bar_chart(labels, [float(c) for c in counts], title=name, y_label="rows")
    top = summary.get("top")
    if isinstance(top, list) and top and summary.get("kind") == "category":
        items = [(str(k), float(v)) for k, v in top[:12]]
        return charts.bar_chart(
            [k for k, _ in items], [v for _, v in items], title=name, y_label="rows"
        )
    return None


PAGES = {
    "home": home,
    "datasets": datasets,
    "dataset": dataset,
    "runs": runs,
    "run": run,
    "compare": compare,
    "models": models,
    "model": model,
    "version": version,
    "monitoring": monitoring,
}

_ = NotFound  # re-raised by the store queries; the app turns it into a 404 page
