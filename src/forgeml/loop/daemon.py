"""``forgeml loop``: apply the project's policy again and again, under a lease.

Each :func:`tick` does, in order: resume any unfinished retraining cycle (a loop killed
mid-cycle picks up where it stopped); settle a rollout whose labels have arrived;
otherwise check the triggers the policy names and start a cycle for the first that fires:

- ``drift``: the latest monitoring window's inputs drifted;
- ``performance``: the labelled predictions of the latest two windows fell more than
  ``monitor.max_drop`` below the champion's test metric (labels arrive late, so the
  window before the latest is the first to have them);
- ``schedule``: the champion is older than ``policy.schedule``;
- ``new_data``: a newer version of the champion's training dataset exists.

A cycle's key is its trigger and the window's end, so the same finding never starts two
cycles. :func:`run_loop` holds the lease ``loop:<model>`` while it ticks: a second loop on
the same project waits instead of retraining too, and takes over when the first stops
renewing.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from forgeml.config import parse_duration
from forgeml.data.versions import dataset
from forgeml.errors import ForgemlError
from forgeml.loop.cycle import Cycle, retrain
from forgeml.loop.rollouts import Verdict, settle
from forgeml.monitor.run import MonitorReport, monitor
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.registry.versions import model_version
from forgeml.store import cycles as rows
from forgeml.store import leases

__all__ = ["Tick", "run_loop", "tick", "triggers"]

Say = Callable[[str], None]


@dataclass
class Tick:
    """What one tick found and did."""

    now: datetime
    fired: list[str] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    verdict: Verdict | None = None
    report: MonitorReport | None = None


def triggers(
    project: Project, model: str, *, now: datetime, report: MonitorReport | None
) -> list[str]:
    """The policy's triggers that fire at ``now`` (in the policy's order)."""
    policy = project.spec.policy
    champion = model_version(f"{model}@champion", project=project)
    fired: list[str] = []
    for name in policy.retrain_on:
        if name == "drift" and report is not None and report.windows:
            latest = report.windows[-1]
            if latest.drift is not None and latest.drift.drifted:
                fired.append(name)
        elif name == "performance" and report is not None and report.decayed:
            fired.append(name)
        elif name == "schedule" and policy.schedule:
            if now - champion.created_at > parse_duration(policy.schedule):
                fired.append(name)
        elif name == "new_data":
            ref = str(champion.signature.get("dataset") or "")
            if ref and "@" in ref:
                try:
                    newest = dataset(ref.split("@")[0], project=project)
                except ForgemlError:
                    continue
                if newest.ref != ref:
                    fired.append(name)
    return fired


def tick(
    model: str,
    *,
    project: ProjectLike = None,
    now: datetime | None = None,
    progress: Say | None = None,
) -> Tick:
    """Do what the policy asks of ``model`` at ``now`` (see the module docstring)."""
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    now = now or datetime.now(UTC)
    result = Tick(now)
    with found.store.read() as session:
        pending = [(c.key, c.trigger, c.status) for c in rows.unfinished(session, model)]
    for key, trigger, status in pending:
        if status == "running":
            say(f"resuming cycle {key}")
            result.cycles.append(retrain(model, project=found, now=now, trigger=trigger, key=key))
    result.verdict = settle(found, model)
    if result.verdict is not None:
        say(result.verdict.describe())
        return result
    if any(c.status == "rolling_out" for c in result.cycles):
        return result
    spec = found.spec.monitor
    window = parse_duration(spec.window)
    result.report = monitor(
        model,
        project=found,
        start=now - 2 * window,  # labels arrive late: the window before may have them
        end=now,
        window=window,
        metric=spec.metric,
        max_drop=spec.max_drop,
        min_labels=spec.min_labels,
    )
    result.fired = triggers(found, model, now=now, report=result.report)
    if result.fired:
        trigger = result.fired[0]
        say(f"{', '.join(result.fired)} at {now:%Y-%m-%d %H:%M}: retraining")
        key = f"{trigger}@{now:%Y-%m-%dT%H:%M}"
        result.cycles.append(
            retrain(model, project=found, now=now, trigger=trigger, key=key, progress=say)
        )
    return result


def run_loop(
    model: str,
    *,
    project: ProjectLike = None,
    once: bool = False,
    interval: timedelta | None = None,
    progress: Say | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[Tick]:
    """Tick every ``interval`` (default ``policy.check_every``) while holding the lease."""
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    every = interval or parse_duration(found.spec.policy.check_every)
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    name = f"loop:{model}"
    ticks: list[Tick] = []
    lease_seconds = max(60.0, 3 * every.total_seconds())
    try:
        while not should_stop():
            with found.store.write() as session:
                mine = leases.acquire(session, name, holder, lease_seconds)
            if mine:
                ticks.append(tick(model, project=found, progress=say))
            else:
                with found.store.read() as session:
                    say(f"another loop holds {name} ({leases.holder(session, name)}); waiting")
            if once:
                break
            deadline = time.monotonic() + every.total_seconds()
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(1.0, every.total_seconds()))
    finally:
        with found.store.write() as session:
            leases.release(session, name, holder)
    return ticks
