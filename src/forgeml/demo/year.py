"""The demo's closed loop: a served year, then the figures that say whether the loop paid.

Every number printed here is computed from the run: the prediction log and its labels for
what was served, the never-retrained champion scoring the same applications offline for
the comparison, the loop's cycles and the registry's alias history for the timeline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.metrics import log_loss, roc_auc_score

from forgeml.demo.replay import MonthRecord, month_bounds, replay_year
from forgeml.demo.timeline import MonthScore, write_timeline
from forgeml.monitor.alerts import list_alerts
from forgeml.project import Project
from forgeml.registry import history, load_model
from forgeml.report.text import duration
from forgeml.serve.predlog import labelled_predictions
from forgeml.serve.rollout import active_rollout, end_rollout
from forgeml.store import cycles as cycle_rows
from forgeml.training.predict import Predictor

__all__ = ["YearResult", "run_year"]


class Teller(Protocol):
    def step(self, title: str) -> None: ...
    def say(self, text: str) -> None: ...


@dataclass(frozen=True)
class YearResult:
    months: list[MonthRecord]
    scores: list[MonthScore]
    timeline: Path
    drift_month: int | None
    promoted_month: int | None
    alerts: int
    summary: list[str]
    gain: float | None = None  # how much lower the log loss was after retraining (a share)
    closed: str | None = None  # the rollout still open at the year's end, and how it ended


def run_year(project: Project, traffic: pa.Table, teller: Teller, path: Path) -> YearResult:
    """Replay ``traffic`` through the server with the loop, then report the year."""

    total = len(set(traffic.column("month").to_pylist()))
    started = time.monotonic()

    def month_line(m: MonthRecord) -> None:
        answered = ", ".join(f"@{v} {n:,}" for v, n in sorted(m.versions.items()))
        drift = "-" if m.drift_share is None else f"{m.drift_share:.0%}"
        teller.say(
            f"month {m.month:>2}/{total}: {m.rows:,} scored ({answered}); inputs drifted {drift}"
            + (f" ({', '.join(m.drifted[:3])})" if m.drifted else "")
            + f" · {_clock(time.monotonic() - started, m.month, total)}"
        )
        for event in m.events:
            teller.say(f"          {event}")

    months = replay_year(project, traffic, say=lambda _t: None, on_month=month_line)
    closed = _close_rollout(project)
    if closed:
        teller.say(closed)
    scores = _scores(project, traffic, months)
    drift_month = next((m.month for m in months if m.drifted), None)
    events = history("credit", project=project)
    promoted_month = None
    first_version = min((v for m in months for v in m.versions), default=None)
    for m in months:
        if promoted_month is None and m.champion is not None and m.champion != first_version:
            promoted_month = m.month
    summary, gain = _summary(scores, months, drift_month, promoted_month)
    moves = [
        f"{e.created_at:%Y-%m-%d %H:%M:%S} {e.action} {e.alias}: "
        f"@{e.from_version if e.from_version is not None else '-'} → @{e.to_version} "
        f"by {e.actor}: {e.reason}"
        for e in reversed(events)
    ]
    write_timeline(path, months, scores, summary=summary, history=moves)
    teller.step("The year in numbers (all from this run)")
    for line in summary:
        teller.say(line)
    alerts = list_alerts(project, "credit")
    teller.say(f"{len(alerts)} alerts stored; timeline: {path.name} (one HTML file, opens offline)")
    return YearResult(
        months, scores, path, drift_month, promoted_month, len(alerts), summary, gain, closed
    )


def _clock(elapsed: float, done: int, total: int) -> str:
    left = elapsed / max(done, 1) * (total - done)
    return f"{duration(elapsed)} elapsed, about {duration(left)} left"


def _close_rollout(project: Project) -> str | None:
    """End a rollout the year left undecided, so the demo leaves nothing open."""
    rollout = active_rollout(project, "credit")
    if rollout is None:
        return None
    reason = "the year ended before its labels could decide"
    end_rollout("credit", outcome="stopped", reason=reason, project=project)
    with project.store.write() as session:
        for cycle in cycle_rows.unfinished(session, "credit"):
            details = dict(cycle.details or {}) | {"reason": f"its rollout was stopped: {reason}"}
            cycle_rows.update(session, cycle.id, stage="done", status="kept", details=details)
    return f"{rollout.describe()} stopped: {reason}; the champion stays"


def _scores(project: Project, traffic: pa.Table, months: list[MonthRecord]) -> list[MonthScore]:
    joined = labelled_predictions(project, "credit")
    joined = joined.filter(pc.not_equal(joined.column("arm"), "shadow"))
    _, frozen = load_model("credit@1", project=project)
    predictor = Predictor(frozen)
    out = []
    times = joined.column("time")
    for record in months:
        start, end = month_bounds(record.month)
        inside = pc.and_(pc.greater_equal(times, pa.scalar(start)), pc.less(times, pa.scalar(end)))
        served = joined.filter(inside)
        rows = traffic.filter(pc.equal(traffic.column("month"), record.month))
        if served.num_rows == 0 or rows.num_rows == 0:
            continue
        y = np.array([json.loads(t) for t in served.column("true_label").to_pylist()], dtype=int)
        p = np.clip(served.column("score").to_numpy(zero_copy_only=False), 1e-15, 1 - 1e-15)
        truth = np.asarray(rows.column("defaulted").to_numpy(zero_copy_only=False), dtype=int)
        q = np.clip(predictor.scores(rows), 1e-15, 1 - 1e-15)
        out.append(
            MonthScore(
                record.month,
                float(log_loss(y, p, labels=[0, 1])),
                float(log_loss(truth, q, labels=[0, 1])),
                float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan"),
                float(roc_auc_score(truth, q)) if len(set(truth.tolist())) == 2 else float("nan"),
                float(truth.mean()),
            )
        )
    return out


def _summary(
    scores: list[MonthScore],
    months: list[MonthRecord],
    drift_month: int | None,
    promoted_month: int | None,
) -> tuple[list[str], float | None]:
    lines = []
    gain = None
    served = sum(m.rows for m in months)
    errors = sum(m.errors for m in months)
    lines.append(f"{served:,} applications scored over HTTP in 12 months, {errors} errors")
    lines.append(
        f"input drift first detected at the end of month {drift_month}"
        if drift_month
        else "no input drift detected"
    )
    if promoted_month is None:
        lines.append("no challenger was promoted: the champion served the whole year")
        return lines, gain
    lines.append(f"a retrained challenger became champion at the end of month {promoted_month}")
    before = [s for s in scores if s.month < 7]
    after = [s for s in scores if s.month > promoted_month]
    if before:
        lines.append(
            f"months 1-6: log loss {_mean(s.served_log_loss for s in before):.3f} "
            f"(ROC AUC {_mean(s.served_auc for s in before):.3f})"
        )
    if after:
        served_ll = _mean(s.served_log_loss for s in after)
        frozen_ll = _mean(s.frozen_log_loss for s in after)
        gain = (frozen_ll - served_ll) / frozen_ll
        lines.append(
            f"gain from retraining, months {after[0].month}-{after[-1].month}: log loss "
            f"{served_ll:.3f} served vs {frozen_ll:.3f} had the first champion never been "
            f"retrained ({abs(gain):.0%} {'lower' if gain >= 0 else 'higher'}); ROC AUC "
            f"{_mean(s.served_auc for s in after):.3f} vs {_mean(s.frozen_auc for s in after):.3f}"
        )
    return lines, gain


def _mean(values: Iterable[float]) -> float:
    items = [v for v in values if np.isfinite(v)]
    return float(np.mean(items)) if items else float("nan")
