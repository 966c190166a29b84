"""The policy's retraining triggers at a given time, and why each did or did not fire.

- ``drift``: the latest monitoring window's inputs drifted;
- ``performance``: the champion's newest labelled predictions fell below its baseline
  (:mod:`forgeml.monitor.baseline`) beyond doubt: the baseline lies outside the 95%
  bootstrap interval of the metric on those predictions, so a few noisy labels do not
  fire it and a small but certain decay on many labels does. Labels
  arrive late, so "newest" counts back from the newest label that has arrived: the
  ``monitor.window`` before it, widened to the newest ``monitor.min_labels`` predictions
  when the window holds fewer; only the champion's own predictions count, and, after a
  cycle that kept the champion, only labels that arrived since: that cycle judged the
  champion on the ones before, on more rows than the trigger sees, so they are no new
  evidence of decay;
- ``new_labels``: the labelled rows the champion has not seen
  (:func:`forgeml.loop.data.unseen_rows`) reached ``policy.new_labels`` of every labelled
  row so far (the rows any version of the model learnt from and every labelled
  prediction), and at least twice ``monitor.min_labels``: enough to train on half and
  judge on the other half. Fewer could hardly change a model that learns from everything;
  and a champion that learnt from a few recent rows only does not make them count for more;
- ``schedule``: ``policy.schedule`` has passed since the last retraining cycle, by the
  loop's own clock (the ``now`` each cycle ran at), or, before any cycle, since the newest
  time in the champion's training data: a replay or backfill with a simulated clock fires
  when its clock says so, whatever the wall clock;
- ``new_data``: a newer version of the champion's training dataset exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.data.versions import dataset
from forgeml.errors import ForgemlError
from forgeml.loop.cycle import judged_through, seen_before
from forgeml.loop.data import unseen_rows
from forgeml.loop.rows import data_time
from forgeml.monitor.baseline import decay_baseline, own_labelled_predictions
from forgeml.monitor.bootstrap import metric_interval
from forgeml.monitor.performance import window_metrics
from forgeml.monitor.run import MonitorReport
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion, model_version
from forgeml.serve.predlog import labelled_predictions
from forgeml.serve.segments import to_utc
from forgeml.store import cycles as rows
from forgeml.training import metrics as m

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
            found.append(_performance(project, champion, now=now, report=report))
        elif name == "schedule":
            if not policy.schedule:
                found.append(Finding(name, False, "no policy.schedule is set"))
                continue
            due = schedule_due(project, champion, parse_duration(policy.schedule), now=now)
            fired = now >= due
            when = f"{due:%Y-%m-%d %H:%M}"
            found.append(Finding(name, fired, f"schedule {'was ' if fired else ''}due at {when}"))
        elif name == "new_labels":
            found.append(_new_labels(project, champion, now=now))
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


def _performance(
    project: Project, champion: ModelVersion, *, now: datetime, report: MonitorReport | None
) -> Finding:
    spec = project.spec.monitor
    task = str(champion.signature.get("task") or "binary")
    metric = (report.metric if report is not None else None) or spec.metric
    metric = metric or ("accuracy" if task == "multiclass" else m.DEFAULT_METRIC[task])
    baseline = decay_baseline(project, champion, metric, now=now)
    if baseline is None:
        return Finding("performance", False, f"the champion has no {metric} baseline")
    if baseline.value is None:
        return Finding("performance", False, f"no {metric} baseline yet: {baseline.source}")
    kept = _last_kept(project, champion, now=now)
    rows = own_labelled_predictions(project, champion, now=now, arrived_after=kept)
    if baseline.until is not None:  # judged only on predictions after the baseline's
        after = np.datetime64(baseline.until.replace(tzinfo=None), "us")
        rows = rows.take(np.flatnonzero(rows.times > after))
    if len(rows) < spec.min_labels:
        since = "so far" if kept is None else f"since a cycle kept it at {kept:%Y-%m-%d %H:%M}"
        if baseline.until is not None:
            since = f"after its baseline's ({baseline.source})"
        return Finding(
            "performance",
            False,
            f"{len(rows)} labelled predictions of @{champion.version} {since} "
            f"(it needs {spec.min_labels})",
        )
    newest = rows.times[-1]
    since = newest - np.timedelta64(int(parse_duration(spec.window).total_seconds()), "s")
    first = min(int(np.searchsorted(rows.times, since)), len(rows) - spec.min_labels)
    lo: datetime = rows.times[first].astype("datetime64[us]").item().replace(tzinfo=UTC)
    hi: datetime = newest.astype("datetime64[us]").item().replace(tzinfo=UTC)
    span = [(lo, hi + timedelta(microseconds=1))]
    threshold = float(champion.metrics.get("test", {}).get("threshold") or 0.5)
    value = window_metrics(rows, span, threshold=threshold)[0].metrics.get(metric)
    if not isinstance(value, int | float):
        return Finding("performance", False, f"{metric} could not be measured")
    newest_rows = rows.take(slice(first, None))
    low, high = metric_interval(newest_rows, metric, threshold)
    higher = m.HIGHER_IS_BETTER.get(metric, True)
    what = (
        f"{metric} {value:.4f} on the {len(rows) - first} newest labelled predictions "
        f"vs baseline {baseline.value:.4f} ({baseline.source})"
    )
    if low is None or high is None:
        return Finding("performance", False, f"{what}: no interval could be computed")
    what += f" (95% interval {low:.4f} to {high:.4f})"
    if (baseline.value > high) if higher else (baseline.value < low):
        return Finding("performance", True, f"{what}: worse beyond doubt")
    return Finding("performance", False, f"{what}: within noise of the baseline")


def _last_kept(project: Project, champion: ModelVersion, *, now: datetime) -> datetime | None:
    """When (by the loop's clock, up to ``now``) a cycle last ended keeping ``champion``."""
    last: datetime | None = None
    with project.store.read() as session:
        for record in rows.latest(session, champion.name, limit=1000):
            details = record.details or {}
            clock = details.get("clock")
            if record.status != "kept" or details.get("champion") != champion.version or not clock:
                continue
            at = to_utc(datetime.fromisoformat(str(clock)))
            if at is not None and at <= now and (last is None or at > last):
                last = at
    return last


def _new_labels(project: Project, champion: ModelVersion, *, now: datetime) -> Finding:
    policy, spec = project.spec.policy, project.spec.monitor
    used = judged_through(project, champion.name, champion.version)
    unseen, known = unseen_rows(
        project,
        champion,
        now=now,
        seen_before=seen_before(project, champion.name, champion.version),
        after=used,
    )
    needed = max(2 * spec.min_labels, math.ceil(policy.new_labels * known))
    since = f" since {used:%Y-%m-%d %H:%M}" if used else ""
    what = (
        f"{unseen} labelled rows @{champion.version} has not seen{since}"
        + (f" ({unseen / known:.0%} of the {known} labelled rows so far)" if known else "")
        + f"; it needs {needed}"
    )
    return Finding("new_labels", unseen >= needed, what)


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
