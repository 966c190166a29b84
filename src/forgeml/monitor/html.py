"""The monitoring report as one self-contained HTML page, for a reader offline.

The page shows the range and its verdicts, the alerts, a timeline of the share of inputs
that drifted and of the performance metric per window (the training baseline beside it),
then per input the reference and current distributions over the reference's bins (the
current one is the exact merge of the window profiles), its drift statistics and its
effect size by window; then data quality and the change points of the error stream.
Charts are drawn by the vendored uPlot, written into the page with the data: the page has
no fonts, images or links to fetch. Every value from user data (column names, categories)
is escaped.
"""

from __future__ import annotations

import functools
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from forgeml.errors import DataError
from forgeml.monitor.categorical import CategoryBins
from forgeml.monitor.drift import ColumnDrift
from forgeml.monitor.profile import ColumnProfile, WindowProfile, merge_profiles
from forgeml.monitor.reference import ColumnReference, ReferenceProfile
from forgeml.monitor.references import reference_for
from forgeml.monitor.run import MonitorReport, summary_rows
from forgeml.project import ProjectLike
from forgeml.report import charts, text
from forgeml.report.text import interval_labels

__all__ = ["render", "write_monitor_report"]

COLORS = ("#9ca3af", "#2563eb")  # reference grey, current blue
MAX_NOTES = 8  # more windows than this: points without notes


def render(
    report: MonitorReport,
    *,
    reference: ReferenceProfile | None = None,
    project: ProjectLike = None,
) -> str:
    """The report as one HTML page; ``reference`` defaults to the version's stored one
    (:func:`~forgeml.monitor.references.reference_for`, in ``project``)."""
    found = reference or reference_for(report.version, project=project)
    view = _view(report, found)
    return (
        _environment()
        .get_template("monitor.html.j2")
        .render(chart_assets=charts.inline_assets(), **view)
    )


def write_monitor_report(
    report: MonitorReport,
    path: str | Path,
    *,
    reference: ReferenceProfile | None = None,
    project: ProjectLike = None,
) -> Path:
    """Write the page to ``path`` (folders created as needed); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(report, reference=reference, project=project), encoding="utf-8")
    return target


def _view(report: MonitorReport, reference: ReferenceProfile) -> dict[str, Any]:
    whole = merge_profiles(report.window_profiles) if report.window_profiles else None
    if whole is not None and whole.reference != reference.id:
        raise DataError(
            f"the report's windows were profiled against reference {whole.reference}, "
            f"not {reference.id}",
            fix="render the report with the reference of its own version (the default)",
        )
    axis = _Axis(report)
    drift = report.overall
    features = [
        _feature(report, c, reference.profile.columns.get(c.name), whole, axis)
        for c in reference.columns
    ]
    features.sort(key=lambda f: f["order"])
    prediction = None
    if reference.prediction is not None and whole is not None and whole.prediction is not None:
        score = drift.prediction if drift is not None else None
        prediction = _distribution(
            reference.prediction, reference.profile.prediction, whole.prediction, score
        )
    return {
        "title": f"{report.model} v{report.version.version}",
        "report": report,
        "facts": _facts(report, reference, axis),
        "verdicts": _verdicts(report),
        "windows": summary_rows(report),
        "timeline": _timeline(report, axis),
        "drift_rows": list(drift.columns) if drift else [],
        "score_row": drift.prediction if drift else None,
        "features": features,
        "prediction": prediction,
        "quality": report.quality,
        "window_issues": [
            (w.start, w.quality.issues) for w in report.windows if w.quality and w.quality.issues
        ],
        "error_kind": _error_kind(report),
    }


class _Axis:
    """The timelines' time axis: window starts over the report's range (UTC)."""

    def __init__(self, report: MonitorReport) -> None:
        windows = report.windows
        self.size = windows[0].end - windows[0].start if windows else report.end - report.start
        self.label = "window start (UTC)"
        self.range = (report.start.timestamp(), report.end.timestamp())


def _facts(report: MonitorReport, reference: ReferenceProfile, axis: _Axis) -> list[Any]:
    return [
        ("Model", report.model),
        ("Version", f"v{report.version.version}"),
        ("From", f"{report.start:%Y-%m-%d %H:%M} UTC"),
        ("To", f"{report.end:%Y-%m-%d %H:%M} UTC"),
        ("Windows", f"{len(report.windows)} × {_duration(axis.size)}"),
        ("Rows", sum(w.rows for w in report.windows)),
        ("Reference rows", reference.profile.rows),
        ("Metric", report.metric),
        ("Baseline", report.baseline),
        ("Baseline from", report.baseline_source or "-"),
    ]


def _verdicts(report: MonitorReport) -> list[tuple[str, str]]:
    """(text, tone) badges: drift, performance, data quality."""
    tested = any(w.drift is not None for w in report.windows)
    labelled = any(report.metric in w.performance.metrics for w in report.windows)
    checked = [w.quality for w in report.windows if w.quality is not None]
    return [
        ("inputs drifted", "fail") if report.drifted
        else ("no input drift", "pass") if tested
        else ("too few rows to test drift", "muted"),
        ("performance decayed", "fail") if report.decayed
        else ("no baseline yet", "muted") if report.baseline is None
        else ("performance held", "pass") if labelled
        else ("no labels yet", "muted"),
        ("data quality issues", "fail") if any(q.issues for q in checked)
        else ("data quality ok", "pass") if checked
        else ("quality not checked", "muted"),
    ]  # fmt: skip


def _timeline(report: MonitorReport, axis: _Axis) -> list[Markup]:
    xs = [w.start for w in report.windows]
    share = [w.drift.share if w.drift is not None else math.nan for w in report.windows]
    notes = [
        f"{len(w.drift.drifted_columns)}/{sum(c.tested for c in w.drift.columns)}"
        if w.drift is not None and len(xs) <= MAX_NOTES else ""
        for w in report.windows
    ]  # fmt: skip
    drawn = [charts.line_chart(
        [charts.Series("inputs drifted", xs, share, markers=True, notes=notes)],
        title="Share of inputs drifted (drifted / tested)", x_label=axis.label,
        y_label="share of inputs", x_range=axis.range, y_range=(0.0, 1.0), percent=True,
    )]  # fmt: skip
    values = [_float(w.performance.metrics.get(report.metric)) for w in report.windows]
    if any(math.isfinite(v) for v in values):
        baseline = None if report.baseline is None else ("baseline", report.baseline)
        drawn.append(charts.line_chart(
            [charts.Series(report.metric, xs, values, markers=True)], baseline=baseline,
            title=f"{report.metric} of the labelled predictions, per window",
            x_label=axis.label, y_label=report.metric, x_range=axis.range,
        ))  # fmt: skip
    return drawn


def _feature(
    report: MonitorReport,
    column: ColumnReference,
    ref: ColumnProfile | None,
    whole: WindowProfile | None,
    axis: _Axis,
) -> dict[str, Any]:
    found = _column(report.overall, column.name)
    current = whole.columns.get(column.name) if whole is not None else None
    view = _distribution(column, ref, current, found)
    tested = [(w, c) for w in report.windows if (c := _column(w.drift, column.name)) and c.tested]
    if len(tested) > 1:
        xs = [w.start for w, _ in tested]
        view["trend"] = charts.line_chart(
            [charts.Series("effect", xs, [c.effect for _, c in tested], markers=True),
             charts.Series("threshold", xs, [c.threshold for _, c in tested], dashed=True)],
            title=f"{column.name}: effect size per window", x_label=axis.label,
            y_label="effect size", x_range=axis.range,
        )  # fmt: skip
    ratio = found.effect / found.threshold if found and found.tested and found.threshold else -1
    view["order"] = (not (found and found.drifted), not (found and found.tested), -ratio)
    return view


def _distribution(
    column: ColumnReference,
    ref: ColumnProfile | None,
    cur: ColumnProfile | None,
    drift: ColumnDrift | None,
) -> dict[str, Any]:
    labels = _bin_labels(column)
    groups = [
        ("reference", _shares(ref, len(labels))),
        ("this range", _shares(cur, len(labels))),
    ]
    chart = charts.grouped_bar_chart(
        labels, groups, title=f"{column.name}: share of values per bin",
        y_label="share of non-null values", percent=True, colors=COLORS,
    )  # fmt: skip
    status = (
        "drifted" if drift is not None and drift.drifted
        else "stable" if drift is not None and drift.tested
        else "not tested"
    )  # fmt: skip
    return {
        "name": column.name,
        "kind": column.kind,
        "status": status,
        "drift": drift,
        "chart": chart,
        "trend": None,
        "nulls": (ref.nulls if ref else None, cur.nulls if cur else None),
    }


def _bin_labels(column: ColumnReference) -> list[str]:
    bins = column.bins
    if isinstance(bins, CategoryBins):
        return [f'"{c}"' if not c.strip() else c for c in bins.categories] + ["(other)"]
    return interval_labels(bins.edges.tolist(), timestamp=column.kind == "timestamp")


def _shares(profile: ColumnProfile | None, size: int) -> list[float]:
    """Each bin's share of the present values (NaN, drawn as no bar, when there are none)."""
    if profile is None or len(profile.counts) != size or not profile.present:
        return [math.nan] * size
    return [float(c) / profile.present for c in profile.counts]


def _column(drift: Any, name: str) -> ColumnDrift | None:
    if drift is None:
        return None
    return next((c for c in drift.columns if c.column == name), None)


def _error_kind(report: MonitorReport) -> str:
    task = str(report.version.signature.get("task") or "binary")
    return {"binary": "log loss", "multiclass": "error rate"}.get(task, "absolute error")


def _duration(size: timedelta) -> str:
    seconds = int(size.total_seconds())
    for unit, length in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % length == 0:
            return f"{seconds // length}{unit}"
    return str(size)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("forgeml.monitor", "templates"),
        autoescape=True,  # the template's name ends in .j2, which select_autoescape would miss
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = text.number
    env.filters["pct"] = text.percent
    return env
