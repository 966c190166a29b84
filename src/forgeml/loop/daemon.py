"""``forgeml loop``: apply the project's policy again and again, under a lease.

Each :func:`tick` does, in order: resume any unfinished retraining cycle (a loop killed
mid-cycle picks up where it stopped); settle a rollout whose labels have arrived;
otherwise check the triggers the policy names (:mod:`forgeml.loop.triggers`) and start a
cycle for the first that fires. A tick where nothing fires says why, trigger by trigger.

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
from forgeml.loop.cycle import Cycle, retrain
from forgeml.loop.rollouts import Verdict, settle
from forgeml.loop.triggers import Finding, check_triggers, last_label, triggers
from forgeml.monitor.run import MonitorReport, monitor
from forgeml.project import ProjectLike, resolve_project
from forgeml.serve.segments import to_utc
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
    findings: list[Finding] = field(default_factory=list)
    last_label: tuple[datetime, datetime] | None = None  # when it came, its prediction's time

    def quiet(self) -> str:
        """Why no trigger fired, in one line (empty when one did)."""
        if self.fired or not self.findings:
            return ""
        labels = "no labelled predictions yet"
        if self.last_label is not None:
            came, made = self.last_label
            labels = (
                f"last labels at {came:%Y-%m-%d %H:%M} (predictions up to {made:%Y-%m-%d %H:%M})"
            )
        return "no trigger fired: " + "; ".join([labels, *(f.why for f in self.findings)])


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
    now = to_utc(now) or datetime.now(UTC)
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
    result.findings = check_triggers(found, model, now=now, report=result.report)
    result.fired = [f.trigger for f in result.findings if f.fired]
    if not result.fired:
        result.last_label = last_label(found, model, now=now)
        say(result.quiet())
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
    now: datetime | None = None,
) -> list[Tick]:
    """Tick every ``interval`` (default ``policy.check_every``) while holding the lease.

    ``now`` sets the loop's clock (a replay or backfill): the first tick happens at
    ``now`` and the clock then advances with real time; default: the wall clock.
    """
    say = progress or (lambda _text: None)
    began, start = time.monotonic(), to_utc(now)
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
                at = None if start is None else start + timedelta(seconds=time.monotonic() - began)
                ticks.append(tick(model, project=found, now=at, progress=say))
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
