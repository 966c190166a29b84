"""The policy's retraining triggers at a given time, and why each did or did not fire.

- ``drift``: the latest monitoring window's inputs drifted;
- ``performance``: the labelled predictions of the latest two windows fell more than
  ``monitor.max_drop`` below the champion's baseline (labels arrive late, so the window
  before the latest is the first to have them);
- ``schedule``: ``policy.schedule`` has passed since the last retraining cycle, by the
  loop's own clock (the ``now`` each cycle ran at), or, before any cycle, since the newest
  time in the champion's training data: a replay or backfill with a simulated clock fires
  when its clock says so, whatever the wall clock;
- ``new_data``: a newer version of the champion's training dataset exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.data.versions import dataset
from forgeml.errors import ForgemlError
from forgeml.loop.rows import data_time
from forgeml.monitor.run import MonitorReport
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion, model_version
from forgeml.serve.predlog import labelled_predictions
from forgeml.serve.segments import to_utc
from forgeml.store import cycles as rows

__all__ = ["Finding", "check_triggers", "last_label", "schedule_due", "triggers"]


@dataclass(frozen=True)
class Finding:
    """One trigger at one time: whether it fired, and why (or why not), in words."""

    trigger: str
    fired: bool
    why: str


def check_triggers(
    project: Project, model: str, *, now: datetime, report: MonitorReport | None
) -> list[Finding]:
    """Every trigger the policy names, in its order, with what it found at ``now``."""
    policy = project.spec.policy
    champion = model_version(f"{model}@champion", project=project)
    found: list[Finding] = []
    for name in policy.retrain_on:
        if name == "drift":
            found.append(_drift(report))
        elif name == "performance":
            found.append(_performance(report, project.spec.monitor.min_labels))
        elif name == "schedule":
            if not policy.schedule:
                found.append(Finding(name, False, "no policy.schedule is set"))
                continue
            due = schedule_due(project, champion, parse_duration(policy.schedule), now=now)
            fired = now >= due
            when = f"{due:%Y-%m-%d %H:%M}"
            found.append(Finding(name, fired, f"schedule {'was ' if fired else ''}due at {when}"))
        elif name == "new_data":
            found.append(_new_data(project, champion))
    return found


def triggers(
    project: Project, model: str, *, now: datetime, report: MonitorReport | None
) -> list[str]:
    """The policy's triggers that fire at ``now`` (in the policy's order)."""
    return [f.trigger for f in check_triggers(project, model, now=now, report=report) if f.fired]


def schedule_due(
    project: Project, champion: ModelVersion, every: timedelta, *, now: datetime
) -> datetime:
    """When the schedule next asks for a retraining cycle (see the module docstring)."""
    last: datetime | None = None
    with project.store.read() as session:
        for record in rows.latest(session, champion.name, limit=1000):
            clock = (record.details or {}).get("clock")
            at = to_utc(datetime.fromisoformat(clock)) if clock else None
            if at is not None and at <= now and (last is None or at > last):
                last = at
    if last is None:
        last = _data_time(project, champion) or to_utc(champion.created_at) or now
    return last + every


def last_label(project: Project, model: str, *, now: datetime) -> tuple[datetime, datetime] | None:
    """When the newest label that had arrived by ``now`` came, and its prediction's time."""
    joined = labelled_predictions(project, model, end=now)
    if joined.num_rows:
        arrived = joined.column("label_time")
        joined = joined.filter(pc.less_equal(arrived, pa.scalar(now, arrived.type)))
    if joined.num_rows == 0:
        return None
    came: datetime = pc.max(joined.column("label_time")).as_py()
    made: datetime = pc.max(joined.column("time")).as_py()
    return came, made


def _data_time(project: Project, champion: ModelVersion) -> datetime | None:
    ref = champion.signature.get("dataset")
    if not ref:
        return None
    try:
        table = dataset(str(ref), project=project).to_arrow()
    except ForgemlError:
        return None
    return data_time(table)


def _drift(report: MonitorReport | None) -> Finding:
    if report is None or not report.windows:
        return Finding("drift", False, "no monitoring window to test drift on")
    latest = report.windows[-1]
    end = f"{latest.end:%Y-%m-%d %H:%M}"
    if latest.drift is None:
        return Finding(
            "drift", False, f"too few predictions ({latest.rows}) in the window ending {end}"
        )
    if latest.drift.drifted:
        columns = ", ".join(latest.drift.drifted_columns)
        return Finding("drift", True, f"inputs drifted in the window ending {end} ({columns})")
    return Finding("drift", False, f"drift below its threshold in the window ending {end}")


def _performance(report: MonitorReport | None, min_labels: int) -> Finding:
    if report is None or not report.windows:
        return Finding("performance", False, "no monitoring window to measure")
    if report.decayed:
        return Finding("performance", True, f"{report.metric} fell below its baseline")
    if report.baseline is None:
        return Finding("performance", False, f"the champion has no {report.metric} baseline")
    labelled = [w.performance for w in report.windows if w.performance.rows >= min_labels]
    if not labelled:
        counts = "+".join(str(w.performance.rows) for w in report.windows)
        return Finding(
            "performance",
            False,
            f"too few labels in the last windows ({counts}; it needs {min_labels})",
        )
    value = labelled[-1].metrics.get(report.metric)
    shown = f"{value:.4f}" if isinstance(value, int | float) else "n/a"
    return Finding(
        "performance",
        False,
        f"{report.metric} {shown} within the allowed drop from {report.baseline:.4f}",
    )


def _new_data(project: Project, champion: ModelVersion) -> Finding:
    ref = str(champion.signature.get("dataset") or "")
    if not ref or "@" not in ref:
        return Finding("new_data", False, "the champion names no training dataset")
    try:
        newest = dataset(ref.split("@")[0], project=project)
    except ForgemlError:
        return Finding("new_data", False, f"dataset {ref} is gone")
    if newest.ref != ref:
        return Finding("new_data", True, f"{newest.ref} is newer than {ref}")
    return Finding("new_data", False, f"no version of the dataset newer than {ref}")
