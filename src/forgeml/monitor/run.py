"""``forgeml monitor``: drift, data quality and performance of a served model, per window.

The prediction log of ``[start, end)`` (served arms; shadow rows are the same requests) is
cut into windows. Each window is profiled against the reference of the version the alias
names; the whole range is the exact merge of its windows. Per window: drift (per input,
FDR-controlled across inputs, and of the scores), data quality, and the metrics of the
predictions whose labels have arrived. Over the range: change points of the error stream.

Findings become alerts (stored once per key, see :mod:`forgeml.monitor.alerts`):
``drift:<window start>`` when the window's inputs drifted, ``quality:<start>`` for quality
issues, ``performance:<start>`` when the window's metric fell more than ``max_drop`` below
the version's test metric (with at least ``min_labels`` labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.errors import ConfigError
from forgeml.monitor.alerts import Alert, raise_alert
from forgeml.monitor.baseline import decay_baseline
from forgeml.monitor.drift import DriftReport, compare
from forgeml.monitor.performance import (
    ChangePoint,
    WindowMetrics,
    change_points,
    labelled_rows,
    window_metrics,
)
from forgeml.monitor.profile import WindowProfile, merge_profiles, profile_window
from forgeml.monitor.quality import QualityReport, data_quality
from forgeml.monitor.references import reference_for
from forgeml.monitor.windows import record_windows
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.versions import ModelVersion, model_version
from forgeml.serve.feedback import label_conflicts
from forgeml.serve.predlog import labelled_predictions, read_predictions
from forgeml.serve.segments import to_utc
from forgeml.training import metrics as m

if TYPE_CHECKING:
    from forgeml.monitor.reference import ReferenceProfile

__all__ = ["MonitorReport", "WindowResult", "monitor", "parse_window", "summary_rows"]

MIN_ROWS = 50  # fewer rows in a window: profiled, but not tested for drift


@dataclass(frozen=True)
class WindowResult:
    start: datetime
    end: datetime
    rows: int
    drift: DriftReport | None
    quality: QualityReport | None
    performance: WindowMetrics
    decayed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "drift": None if self.drift is None else self.drift.to_dict(),
            "quality": None if self.quality is None else self.quality.to_dict(),
            "performance": self.performance.to_dict(),
            "decayed": self.decayed,
        }


@dataclass(frozen=True)
class MonitorReport:
    """What monitoring found over ``[start, end)``, window by window and overall."""

    model: str
    version: ModelVersion
    start: datetime
    end: datetime
    metric: str
    baseline: float | None
    windows: list[WindowResult]
    overall: DriftReport | None
    quality: QualityReport | None
    changes: list[ChangePoint]
    alerts: list[Alert] = field(default_factory=list)
    window_profiles: list[WindowProfile] = field(default_factory=list)
    label_conflicts: int = 0
    """Feedback labels stored for the model that differ from their request's first label."""
    baseline_source: str = ""  # where the baseline comes from (forgeml.monitor.baseline)

    @property
    def drifted(self) -> bool:
        return any(w.drift is not None and w.drift.drifted for w in self.windows)

    @property
    def decayed(self) -> bool:
        return any(w.decayed for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version.version,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "metric": self.metric,
            "baseline": self.baseline,
            "baseline_source": self.baseline_source,
            "drifted": self.drifted,
            "decayed": self.decayed,
            "windows": [w.to_dict() for w in self.windows],
            "overall": None if self.overall is None else self.overall.to_dict(),
            "quality": None if self.quality is None else self.quality.to_dict(),
            "changes": [c.to_dict() for c in self.changes],
            "alerts": [a.to_dict() for a in self.alerts],
            "label_conflicts": self.label_conflicts,
        }


def parse_window(text: str) -> timedelta:
    """``30m``, ``6h``, ``1d`` or ``2w`` as a duration (see :func:`forgeml.config.parse_duration`).

    >>> parse_window("6h"), parse_window("1d")
    (datetime.timedelta(seconds=21600), datetime.timedelta(days=1))
    """
    return parse_duration(text)


def monitor(
    model: str,
    *,
    project: ProjectLike = None,
    start: datetime | None = None,
    end: datetime | None = None,
    window: timedelta = timedelta(days=1),
    alias: str = "champion",
    metric: str | None = None,
    max_drop: float = 0.05,
    min_labels: int = 100,
    alert: bool = True,
    record: bool = True,
    profile: Callable[[pa.Table, ReferenceProfile], WindowProfile] = profile_window,
    progress: Callable[[str], None] | None = None,
) -> MonitorReport:
    """Monitor ``model`` over ``[start, end)`` (default: the last ``window``) in windows.

    With ``record`` each window's findings are kept in the store (the web UI's monitoring
    page draws them over time). ``profile`` profiles one window's rows (e.g. partition by
    partition on Ray and merged: :func:`forgeml.monitor.ray_profiles.ray_profiler`).
    ``progress`` is told ``window n/N: START`` as each window is profiled (default: silent).
    """
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    version = model_version(f"{model}@{alias}", project=found)
    end = to_utc(end) or datetime.now(UTC)
    start = to_utc(start) or end - window
    if start >= end or window <= timedelta(0):
        raise ConfigError(
            f"the monitoring range {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} is empty",
            fix="give --from before --to, and a positive --window",
        )
    reference = reference_for(version, project=found)
    log = read_predictions(found, model, start=start, end=end)
    log = log.filter(pc.not_equal(log.column("arm"), "shadow")) if log.num_rows else log
    bounds = _windows(start, end, window)
    times = log.column("time")
    profiles, drifts, qualities = [], [], []
    for number, (lo, hi) in enumerate(bounds, 1):
        say(f"window {number}/{len(bounds)}: {lo:%Y-%m-%d %H:%M}")
        rows = (
            log.filter(
                pc.and_(pc.greater_equal(times, pa.scalar(lo)), pc.less(times, pa.scalar(hi)))
            )
            if log.num_rows
            else log
        )
        window_profile = profile(rows, reference)
        profiles.append(window_profile)
        tested = window_profile.rows >= MIN_ROWS
        drifts.append(compare(reference, window_profile) if tested else None)
        qualities.append(data_quality(reference, window_profile) if tested else None)
    task = str(version.signature.get("task") or "binary")
    # The log keeps the top class only: multiclass windows are judged on accuracy.
    metric = metric or ("accuracy" if task == "multiclass" else m.DEFAULT_METRIC[task])
    found_baseline = decay_baseline(found, version, metric, now=end)
    baseline = None if found_baseline is None else found_baseline.value
    joined = labelled_predictions(found, model, start=start, end=end)
    if joined.num_rows:
        joined = joined.filter(pc.not_equal(joined.column("arm"), "shadow"))
    rows = labelled_rows(joined, task=task, classes=version.signature.get("classes"))
    threshold = _number(version.metrics.get("test", {}).get("threshold")) or 0.5
    performance = window_metrics(rows, bounds, threshold=threshold)
    windows = []
    for (lo, hi), profiled, drift, quality, perf in zip(
        bounds, profiles, drifts, qualities, performance, strict=True
    ):
        decayed = _decayed(perf, metric, baseline, max_drop, min_labels)
        windows.append(WindowResult(lo, hi, profiled.rows, drift, quality, perf, decayed))
    whole = merge_profiles(profiles)
    enough = whole.rows >= MIN_ROWS
    report = MonitorReport(
        model=model,
        version=version,
        start=start,
        end=end,
        metric=metric,
        baseline=baseline,
        baseline_source="" if found_baseline is None else found_baseline.source,
        windows=windows,
        overall=compare(reference, whole) if enough else None,
        quality=data_quality(reference, whole) if enough else None,
        changes=change_points(rows) if len(rows) >= min_labels else [],
        window_profiles=profiles,
        label_conflicts=label_conflicts(found, model),
    )
    if alert:
        report.alerts.extend(_alerts(found, report, max_drop))
    if record:
        record_windows(found, report)
    return report


def _alerts(project: Any, report: MonitorReport, max_drop: float) -> list[Alert]:
    out = []
    for w in report.windows:
        span = (w.start, w.end)
        stamp = f"{w.start:%Y-%m-%dT%H:%M}/{w.end:%Y-%m-%dT%H:%M}"
        if w.drift is not None and w.drift.drifted:
            names = ", ".join(w.drift.drifted_columns[:6])
            out.append(
                raise_alert(
                    project,
                    report.model,
                    key=f"drift:{stamp}",
                    kind="drift",
                    message=f"{len(w.drift.drifted_columns)} of {len(w.drift.columns)} inputs "
                    f"drifted from @{report.version.version}'s training data: {names}",
                    details={"drifted": list(w.drift.drifted_columns)},
                    window=span,
                )
            )
        if w.quality is not None and not w.quality.ok:
            out.append(
                raise_alert(
                    project,
                    report.model,
                    key=f"quality:{stamp}",
                    kind="quality",
                    message="data quality: " + ", ".join(w.quality.issues[:6]),
                    details={"issues": list(w.quality.issues)},
                    window=span,
                )
            )
        if w.decayed:
            value = w.performance.metrics.get(report.metric)
            out.append(
                raise_alert(
                    project,
                    report.model,
                    key=f"performance:{stamp}",
                    kind="performance",
                    severity="critical",
                    message=f"{report.metric} {value:.4f} on {w.performance.rows} labelled "
                    f"predictions, against its baseline {report.baseline:.4f} "
                    f"({report.baseline_source}; allowed drop {max_drop})",
                    details={"metric": report.metric, "value": value, "baseline": report.baseline},
                    window=span,
                )
            )
    return out


def _decayed(
    perf: WindowMetrics, metric: str, baseline: float | None, max_drop: float, min_labels: int
) -> bool:
    value = _number(perf.metrics.get(metric))
    if baseline is None or value is None or perf.rows < min_labels:
        return False
    worse = baseline - value if m.HIGHER_IS_BETTER.get(metric, True) else value - baseline
    return worse > max_drop


def _windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    bounds, lo = [], start
    while lo < end:
        hi = min(lo + size, end)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def summary_rows(report: MonitorReport) -> Sequence[tuple[str, ...]]:
    """One row per window for a terminal table: rows, drifted inputs, quality, metric."""
    out = []
    for w in report.windows:
        drift = "-" if w.drift is None else (", ".join(w.drift.drifted_columns[:4]) or "none")
        quality = "-" if w.quality is None else (", ".join(w.quality.issues[:3]) or "ok")
        value = _number(w.performance.metrics.get(report.metric))
        metric = "-" if value is None else f"{value:.4f} ({w.performance.rows:,} labels)"
        out.append(
            (
                f"{w.start:%Y-%m-%d %H:%M}",
                f"{w.rows:,}",
                drift,
                quality,
                metric + (" ▼" if w.decayed else ""),
            )
        )
    return out
