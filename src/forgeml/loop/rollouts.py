"""Settling a rollout from its labels: promote the challenger, or roll it back.

While a challenger is in canary (or shadow), its labelled predictions are compared with the
champion's over the same period: the champion's arm in a canary, the same requests in a
shadow. Once the challenger's arm has ``rollout.predictions`` labelled predictions, a
challenger at most ``rollout.max_drop`` worse than the champion on the policy's metric is
promoted; a worse one is rolled back automatically. A canary whose labels are conclusive
sooner is decided sooner: from ``monitor.min_labels`` labelled predictions in its arm,
when the per-prediction losses of the two arms differ beyond a 99% confidence bound (a
two-sample z-test; the strict level keeps repeated looks honest), the better arm wins;
and a canary that has served for ``policy.evaluate_on`` (by its predictions' times) with
``monitor.min_labels`` labels is decided on them by the usual rule.
Either way the rollout and its cycle record the outcome and an alert says what happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.monitor.alerts import raise_alert
from forgeml.monitor.bootstrap import metric_interval, rows_metric
from forgeml.monitor.performance import labelled_rows
from forgeml.project import Project
from forgeml.registry import promote
from forgeml.registry.versions import model_version
from forgeml.serve.predlog import labelled_predictions, read_predictions
from forgeml.serve.rollout import Rollout, active_rollout, end_rollout
from forgeml.store import cycles as rows
from forgeml.training import metrics as m

__all__ = ["ArmProgress", "Verdict", "rollout_progress", "settle"]

_CONCLUSIVE = 2.576  # two-sided 99%: a canary is looked at on every tick


@dataclass(frozen=True)
class Verdict:
    """What a rollout's labels say so far (``decided`` False: not enough labels yet)."""

    rollout: Rollout
    labels: int
    needed: int
    metric: str
    champion: float | None
    challenger: float | None
    decided: bool
    outcome: str | None  # promoted | rolled_back

    def describe(self) -> str:
        if not self.decided:
            return f"{self.rollout.describe()}: {self.labels}/{self.needed} labels so far"
        return (
            f"{self.rollout.describe()}: {self.outcome} ({self.metric} "
            f"{_num(self.challenger)} vs champion {_num(self.champion)} on {self.labels} labels)"
        )


@dataclass(frozen=True)
class ArmProgress:
    """One arm of a rollout so far: its predictions, how many are labelled, its metric.

    ``low`` and ``high`` bound the metric's 95% bootstrap interval (None with fewer than
    :data:`MIN_INTERVAL_LABELS` labels, or when the metric cannot be computed).
    """

    arm: str
    version: int
    predictions: int
    labelled: int
    metric: str
    value: float | None
    low: float | None
    high: float | None


MIN_INTERVAL_LABELS = 20


def rollout_progress(
    project: Project, model: str, *, metric: str | None = None
) -> tuple[Rollout, list[ArmProgress]] | None:
    """The active rollout's arms (champion, then challenger) so far; None when none is active.

    The champion's arm counts from the challenger's first prediction, as :func:`settle`
    compares them.
    """
    rollout = active_rollout(project, model)
    if rollout is None:
        return None
    measured = _measure(project, model, rollout, metric)
    predictions = read_predictions(project, model, columns=["arm", "version", "time"])
    since = measured.since
    arms = []
    for (arm, version), labelled, value, interval in zip(
        measured.arms, measured.labelled, measured.values, measured.intervals, strict=True
    ):
        made = _rows(predictions, arm, version if arm != "champion" else None)
        if arm == "champion" and since is not None and made.num_rows:
            made = made.filter(pc.greater_equal(made.column("time"), pa.scalar(since)))
        number = version if version is not None else measured.champion
        arms.append(
            ArmProgress(arm, number, made.num_rows, labelled, measured.metric, value, *interval)
        )
    return rollout, arms


def settle(project: Project, model: str, *, metric: str | None = None) -> Verdict | None:
    """Decide the model's active rollout if its labels allow; None when none is active.

    It is decided once the challenger has ``policy.rollout.predictions`` labelled
    predictions, earlier when the two arms' errors differ beyond doubt (99%), and on what it
    has once it has served for ``policy.evaluate_on``.
    """
    rollout = active_rollout(project, model)
    if rollout is None:
        return None
    policy = project.spec.policy.rollout
    measured = _measure(project, model, rollout, metric, intervals=False)
    metric = measured.metric
    values = measured.values
    labels = measured.labelled[1]
    min_labels = project.spec.monitor.min_labels
    early = _conclusive(measured.losses[0], measured.losses[1], min_labels=min_labels)
    waited = False
    if early is None and len(measured.losses[1]) >= min_labels and measured.since is not None:
        # a canary that has served for evaluate_on is decided on what it has: its
        # challenger's evidence is going stale, and it holds back every other cycle
        served_for = measured.last - measured.since
        waited = served_for >= parse_duration(project.spec.policy.evaluate_on)
    if (
        values[0] is None
        or values[1] is None
        or (labels < policy.predictions and early is None and not waited)
    ):
        return Verdict(
            rollout, labels, policy.predictions, metric, values[0], values[1], False, None
        )
    theirs_value, ours_value = values[0], values[1]
    if m.HIGHER_IS_BETTER.get(metric, True):
        worse = theirs_value - ours_value
    else:
        worse = ours_value - theirs_value
    outcome = early or ("promoted" if worse <= policy.max_drop else "rolled_back")
    verdict = Verdict(
        rollout, labels, policy.predictions, metric, theirs_value, ours_value, True, outcome
    )
    _apply(project, model, verdict)
    return verdict


@dataclass(frozen=True)
class _Measured:
    metric: str
    champion: int
    since: Any
    arms: list[tuple[str, int | None]]
    labelled: list[int]
    values: list[float | None]
    intervals: list[tuple[float | None, float | None]]
    losses: list[np.ndarray]  # each arm's per-row errors
    last: Any  # the challenger's newest prediction time


def _measure(
    project: Project, model: str, rollout: Rollout, metric: str | None, *, intervals: bool = True
) -> _Measured:
    """The champion's and the challenger's labelled predictions and metric, over one period."""
    champion = model_version(f"{model}@champion", project=project)
    task = str(champion.signature.get("task") or "binary")
    metric = metric or project.spec.monitor.metric or m.DEFAULT_METRIC[task]
    joined = labelled_predictions(project, model)
    arm = "canary" if rollout.mode == "canary" else "shadow"
    ours = _rows(joined, arm, rollout.version)
    since = pc.min(ours.column("time")).as_py() if ours.num_rows else None
    theirs = _rows(joined, "champion", None)
    if since is not None:
        theirs = theirs.filter(pc.greater_equal(theirs.column("time"), pa.scalar(since)))
    classes = champion.signature.get("classes")
    threshold = float(champion.metrics.get("test", {}).get("threshold") or 0.5)
    values: list[float | None] = []
    bounds: list[tuple[float | None, float | None]] = []
    losses: list[np.ndarray] = []
    for table in (theirs, ours):
        labelled = labelled_rows(table, task=task, classes=classes)
        losses.append(labelled.errors())
        values.append(rows_metric(labelled, metric, threshold))
        wanted = intervals and len(labelled) >= MIN_INTERVAL_LABELS
        bounds.append(metric_interval(labelled, metric, threshold) if wanted else (None, None))
    return _Measured(
        metric,
        champion.version,
        since,
        [("champion", None), (arm, rollout.version)],
        [theirs.num_rows, ours.num_rows],
        values,
        bounds,
        losses,
        pc.max(ours.column("time")).as_py() if ours.num_rows else None,
    )


def _apply(project: Project, model: str, verdict: Verdict) -> None:
    reason = verdict.describe()
    if verdict.outcome == "promoted":
        promote(
            f"{model}@{verdict.rollout.version}",
            reason=reason,
            gate=_gate(project, model, verdict),
            project=project,
        )
    end_rollout(
        model, outcome=str(verdict.outcome), reason=reason, actor="forgeml loop", project=project
    )
    with project.store.write() as session:
        for cycle in rows.unfinished(session, model):
            if (
                cycle.status == "rolling_out"
                and cycle.details.get("challenger") == verdict.rollout.version
            ):
                rows.update(
                    session,
                    cycle.id,
                    stage="done",
                    status=str(verdict.outcome),
                    details={"reason": reason, "rollout": _verdict_dict(verdict)},
                )
    raise_alert(
        project,
        model,
        key=f"rollout:{verdict.rollout.id}",
        kind="loop",
        severity="warning" if verdict.outcome == "promoted" else "critical",
        message=reason,
        details=_verdict_dict(verdict),
    )


def _conclusive(theirs: np.ndarray, ours: np.ndarray, *, min_labels: int) -> str | None:
    """``promoted`` or ``rolled_back`` when the arms' losses differ beyond doubt, else None."""
    if len(ours) < min_labels or len(theirs) < min_labels:
        return None
    spread = math.sqrt(theirs.var(ddof=1) / len(theirs) + ours.var(ddof=1) / len(ours))
    if not spread > 0:
        return None
    z = (float(theirs.mean()) - float(ours.mean())) / spread  # > 0: the challenger errs less
    if z > _CONCLUSIVE:
        return "promoted"
    if z < -_CONCLUSIVE:
        return "rolled_back"
    return None


def _gate(project: Project, model: str, verdict: Verdict) -> dict[str, Any]:
    """The challenger's gate on the held-out rows, with the rollout's own check added."""
    found: dict[str, Any] = {"passed": True, "checks": []}
    with project.store.read() as session:
        for cycle in rows.unfinished(session, model):
            judged = (cycle.details or {}).get("comparison")
            if cycle.details.get("challenger") == verdict.rollout.version and judged:
                found = dict(judged["gate"])
    change = None
    if verdict.champion is not None and verdict.challenger is not None:
        change = verdict.challenger - verdict.champion
    check = {
        "name": f"{verdict.metric} vs champion in the {verdict.rollout.mode}",
        "value": change,
        "bound": f"at most {project.spec.policy.rollout.max_drop:g} worse",
        "passed": True,
        "detail": f"{verdict.labels} labelled predictions",
    }
    return {"passed": bool(found.get("passed", True)), "checks": [*found["checks"], check]}


def _rows(joined: pa.Table, arm: str, version: int | None) -> pa.Table:
    if not joined.num_rows:
        return joined
    keep = pc.equal(joined.column("arm"), arm)
    if version is not None:
        keep = pc.and_(keep, pc.equal(joined.column("version"), version))
    return joined.filter(keep)


def _verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "version": verdict.rollout.version,
        "mode": verdict.rollout.mode,
        "labels": verdict.labels,
        "metric": verdict.metric,
        "champion": verdict.champion,
        "challenger": verdict.challenger,
        "outcome": verdict.outcome,
    }


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
