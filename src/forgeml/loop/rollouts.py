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
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import parse_duration
from forgeml.monitor.alerts import raise_alert
from forgeml.monitor.performance import labelled_rows, window_metrics
from forgeml.project import Project
from forgeml.registry import promote
from forgeml.registry.versions import model_version
from forgeml.serve.predlog import labelled_predictions
from forgeml.serve.rollout import Rollout, active_rollout, end_rollout
from forgeml.store import cycles as rows
from forgeml.training import metrics as m

__all__ = ["Verdict", "settle"]

_TICK = timedelta(microseconds=1)  # window ends are exclusive
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


def settle(project: Project, model: str, *, metric: str | None = None) -> Verdict | None:
    """Decide the model's active rollout if its labels allow; None when none is active."""
    rollout = active_rollout(project, model)
    if rollout is None:
        return None
    policy = project.spec.policy.rollout
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
    threshold = champion.metrics.get("test", {}).get("threshold") or 0.5
    values: list[float | None] = []
    losses: list[np.ndarray] = []
    for table in (theirs, ours):
        labelled = labelled_rows(table, task=task, classes=classes)
        losses.append(labelled.errors())
        if len(labelled) == 0:
            values.append(None)
            continue
        span = [(labelled.times.min().item(), labelled.times.max().item() + _TICK)]
        result = window_metrics(labelled, span, threshold=float(threshold))[0]
        value = result.metrics.get(metric)
        values.append(float(value) if isinstance(value, int | float) else None)
    min_labels = project.spec.monitor.min_labels
    early = _conclusive(losses[0], losses[1], min_labels=min_labels)
    if early is None and len(losses[1]) >= min_labels and since is not None:
        # a canary that has served for evaluate_on is decided on what it has: its
        # challenger's evidence is going stale, and it holds back every other cycle
        served_for = pc.max(ours.column("time")).as_py() - since
        waited = served_for >= parse_duration(project.spec.policy.evaluate_on)
    else:
        waited = False
    if (
        values[0] is None
        or values[1] is None
        or (ours.num_rows < policy.predictions and early is None and not waited)
    ):
        return Verdict(
            rollout, ours.num_rows, policy.predictions, metric, values[0], values[1], False, None
        )
    theirs_value, ours_value = values[0], values[1]
    if m.HIGHER_IS_BETTER.get(metric, True):
        worse = theirs_value - ours_value
    else:
        worse = ours_value - theirs_value
    outcome = early or ("promoted" if worse <= policy.max_drop else "rolled_back")
    verdict = Verdict(
        rollout, ours.num_rows, policy.predictions, metric, theirs_value, ours_value, True, outcome
    )
    _apply(project, model, verdict)
    return verdict


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
