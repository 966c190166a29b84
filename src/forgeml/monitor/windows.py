"""Keep each monitored window in the store, so its drift and performance can be shown over time."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from forgeml.store import windows as queries
from forgeml.store.models import utcnow

if TYPE_CHECKING:
    from forgeml.monitor.run import MonitorReport, WindowResult
    from forgeml.project import Project

__all__ = ["record_windows", "window_row"]


def record_windows(project: Project, report: MonitorReport) -> None:
    """Store every window of ``report`` (replacing the same window monitored before)."""
    rows = [window_row(report, window) for window in report.windows]
    if rows:
        with project.store.write() as session:
            queries.record(session, rows)


def window_row(report: MonitorReport, window: WindowResult) -> dict[str, Any]:
    """The ``monitor_windows`` row of one window."""
    drift = window.drift
    features: dict[str, Any] = {}
    if drift is not None:
        for column in drift.columns:
            if column.tested:
                features[column.column] = {
                    "effect": _finite(column.effect),
                    "drifted": bool(column.drifted),
                }
    perf = window.performance
    return {
        "model": report.model,
        "version": report.version.version,
        "window_start": window.start,
        "window_end": window.end,
        "rows": window.rows,
        "drift_share": None if drift is None else _finite(drift.share),
        "drifted": bool(drift is not None and drift.drifted),
        "features": features,
        "metric": report.metric,
        "metric_value": _finite(perf.metrics.get(report.metric)),
        "labels": perf.rows,
        "issues": [] if window.quality is None else list(window.quality.issues),
        "decayed": window.decayed,
        "created_at": utcnow(),
    }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
