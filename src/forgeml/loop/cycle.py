"""One retraining cycle, resumable step by step: data → train → evaluate → rollout.

A cycle is a row in the ``cycles`` table under a key (``drift@2025-07-31T00:00``, say);
each finished step writes what it produced into the row before the next starts. Running a
cycle again with the same key resumes after its last finished step, and each step is
idempotent on its own: the training rows are a content-addressed dataset version, a
challenger already registered from that dataset version is reused, promotion and rollouts
ignore repeats. So a loop killed at any point and started again neither loses nor
duplicates a model version, an alert or a promotion.

Steps:

1. **data**: the newest labelled rows the champion has not seen are held out by time and
   stored as an artifact; the training rows (the other new labelled predictions and, by
   policy, part of the champion's training data) become a dataset version. With no new
   labelled rows to learn from, or training rows identical to the champion's, the cycle
   says so and registers nothing;
2. **train**: ``forgeml train`` on that dataset version, registering (not promoting) the
   challenger when it passes the gate's own bounds (the comparison with the champion is
   the next step's: the training rows include rows the champion was fitted on); after
   decay or drift, a second challenger on the recent rows only, with half the budget;
3. **evaluate**: champion and challenger(s) on the same held-out recent rows, which
   neither was fitted on, gated; of two, the better one that passes goes on;
4. **rollout**: ``direct`` promotes now; ``shadow`` and ``canary`` start a rollout that
   :func:`forgeml.loop.rollouts.settle` decides once enough labels arrive.

A cycle that keeps the champion records why (status ``kept``).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from forgeml.config import PolicySpec, parse_duration
from forgeml.data.ingest import ingest
from forgeml.data.versions import dataset
from forgeml.errors import ForgemlError
from forgeml.loop.data import cycle_data
from forgeml.loop.evaluate import Comparison, compare_versions
from forgeml.monitor.alerts import raise_alert
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.registry import promote
from forgeml.registry.versions import ModelVersion, model_version, versions
from forgeml.serve.rollout import start_rollout
from forgeml.serve.segments import to_utc
from forgeml.store import cycles as rows
from forgeml.training import metrics as m
from forgeml.training.search import parse_duration as budget_seconds
from forgeml.training.trainer import train

__all__ = ["Cycle", "judged_through", "retrain", "seen_before"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class Cycle:
    """Where a cycle stands: ``status`` running | rolling_out | promoted | kept | rolled_back."""

    id: int
    model: str
    key: str
    trigger: str
    status: str
    stage: str
    details: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", ""))


def retrain(
    model: str,
    *,
    project: ProjectLike = None,
    now: datetime | None = None,
    trigger: str = "manual",
    key: str | None = None,
    progress: Say | None = None,
) -> Cycle:
    """Run (or resume) one retraining cycle of ``model``; returns where it ended."""
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    now = to_utc(now) or datetime.now(UTC)
    key = key or f"{trigger}@{now:%Y-%m-%dT%H:%M}"
    with found.store.write() as session:
        record = rows.get_or_create(session, model, key, trigger)
        cycle = _cycle(record)
    if cycle.status != "running":
        return cycle
    policy = found.spec.policy
    champion = model_version(f"{model}@champion", project=found)
    details = dict(cycle.details)
    if "clock" not in details:
        details = _step(found, cycle, cycle.stage, {"clock": now.isoformat()})
    if "dataset" not in details:
        say(f"cycle {key}: building training rows from labelled predictions")
        data = cycle_data(
            found,
            champion,
            now=now,
            mode=policy.data.mode,
            window=parse_duration(policy.data.window),
            evaluate_on=parse_duration(policy.evaluate_on),
            reference_rows=policy.data.reference_rows,
            seen_before=seen_before(found, model, champion.version),
            recent=_recent_span(policy, trigger=cycle.trigger),
            min_rows=policy.data.min_rows,
            least=found.spec.monitor.min_labels,  # enough labels for a verdict
        )
        labelled = data.train.num_rows
        if data.new_rows == 0:
            return _finish(
                found,
                cycle,
                "kept",
                "no new labelled rows to train on: "
                + (
                    f"the champion @{champion.version} has seen every labelled prediction "
                    f"before {data.split_at:%Y-%m-%d %H:%M}, and the "
                    f"{data.holdout.num_rows} newer ones are kept to judge on"
                    if data.holdout.num_rows
                    else f"the champion @{champion.version} has seen every labelled prediction "
                    "so far"
                ),
                {"champion": champion.version},
            )
        if labelled < policy.data.min_rows or data.holdout.num_rows < 50:
            return _finish(
                found,
                cycle,
                "kept",
                f"not enough labelled rows yet: {labelled} to train on (policy needs "
                f"{policy.data.min_rows}), {data.holdout.num_rows} recent ones to judge on",
                {"champion": champion.version},
            )
        if data.same_as_champion:
            return _finish(
                found,
                cycle,
                "kept",
                f"the challenger would be identical to the champion @{champion.version}: "
                "its training rows would be the champion's own, with no new labelled row",
                {"champion": champion.version},
            )
        version = ingest(data.train, name=f"{model}-retrain", project=found).version
        sink = io.BytesIO()
        pq.write_table(data.holdout.drop_columns(["predicted_at"]), sink)
        recent: dict[str, Any] = {}
        if data.recent is not None:
            recent_version = ingest(data.recent, name=f"{model}-retrain", project=found).version
            recent = {"recent_dataset": recent_version.ref, "recent_rows": data.recent.num_rows}
        details = _step(
            found,
            cycle,
            "data",
            {
                **recent,
                "dataset": version.ref,
                "holdout": found.artifacts.put_bytes(sink.getvalue()),
                "train_rows": labelled,
                "holdout_rows": data.holdout.num_rows,
                "target": data.target,
                "champion": champion.version,
                "split_at": data.split_at.isoformat(),
                "newest": data.newest.isoformat() if data.newest else None,
            },
        )
    if "challenger" not in details:
        challenger = _trained_on(found, model, details["dataset"])
        if challenger is None:
            say(f"cycle {key}: training a challenger on {details['dataset']}")
            result = train(
                dataset_ref=details["dataset"],
                project=found,
                promote=False,
                model=model,
                versus_champion=False,  # judged next, on rows neither was fitted on
                split_by_time=False,  # the cycle held out the newest rows by time already
                progress=lambda text: say(f"cycle {key}: {text}"),  # trial n/N, time left
            )
            challenger = result.model
            if challenger is None:
                failed = ", ".join(c.name for c in result.gate.checks if not c.passed)
                if not details.get("recent_dataset"):
                    why = f"the challenger failed its gate: {failed}"
                    return _finish(found, cycle, "kept", why)
                # the one on the recent rows may still pass: 0 marks this one as failed
                details = _step(found, cycle, "train", {"failed": failed})
        number = 0 if challenger is None else challenger.version
        details = _step(found, cycle, "train", {"challenger": number})
    if details.get("recent_dataset") and "recent_challenger" not in details:
        recent_model = _trained_on(found, model, details["recent_dataset"])
        if recent_model is None:
            say(f"cycle {key}: training a challenger on the recent rows only")
            trials, seconds = _half_budget(found)
            try:
                result = train(
                    dataset_ref=details["recent_dataset"],
                    project=found,
                    promote=False,
                    model=model,
                    trials=trials,
                    time_budget=seconds,
                    versus_champion=False,
                    split_by_time=False,
                    progress=lambda text: say(f"cycle {key}: recent: {text}"),
                )
                recent_model = result.model
            except ForgemlError as e:  # a few recent rows can be untrainable (a rare class)
                say(f"cycle {key}: the challenger on the recent rows could not be trained: {e}")
                recent_model = None
        # 0: it failed its gate; the challenger on everything is judged alone
        found_version = 0 if recent_model is None else recent_model.version
        details = _step(found, cycle, "train", {"recent_challenger": found_version})
    if not details["challenger"] and not details.get("recent_challenger"):
        reason = f"both challengers failed their gate: {details.get('failed', '')}"
        return _finish(found, cycle, "kept", reason)
    if "comparison" not in details:
        holdout = pq.read_table(io.BytesIO(found.artifacts.get_bytes(details["holdout"])))
        champion = model_version(f"{model}@{details['champion']}", project=found)
        metric = found.spec.monitor.metric or found.spec.train.metric or _metric(champion)
        judged: list[tuple[str, ModelVersion, Comparison]] = []
        for kind, trained in (
            ("everything", details["challenger"]),
            ("recent", details.get("recent_challenger")),
        ):
            if not trained:  # not trained, or failed its gate
                continue
            challenger = model_version(f"{model}@{trained}", project=found)
            say(
                f"cycle {key}: @{champion.version} vs @{challenger.version} ({kind}) "
                f"on {holdout.num_rows} recent rows"
            )
            judged.append(
                (
                    kind,
                    challenger,
                    compare_versions(
                        found,
                        champion,
                        challenger,
                        holdout,
                        details["target"],
                        metric=metric,
                        gate=found.spec.gate,
                    ),
                )
            )
        kind, challenger, comparison = _better(judged, metric)
        chosen: dict[str, Any] = {"comparison": comparison.to_dict(), "learnt_from": kind}
        if len(judged) > 1:
            chosen["comparisons"] = {k: c.to_dict() for k, _, c in judged}
        if kind == "recent":
            chosen.update(
                challenger=challenger.version,
                dataset=details["recent_dataset"],
                train_rows=details["recent_rows"],
            )
        details = _step(found, cycle, "evaluate", chosen)
        if not comparison.gate.passed or comparison.worse:
            return _finish(
                found,
                cycle,
                "kept",
                "; ".join(_not_promoted(c, k, v, metric, len(judged)) for k, v, c in judged),
            )
    challenger_ref = f"{model}@{details['challenger']}"
    comparison = details["comparison"]
    metric = comparison["metric"]
    reason = (
        f"cycle {key}: {metric} {_num(comparison['challenger'].get(metric))} vs champion "
        f"{_num(comparison['champion'].get(metric))} on {comparison['rows']} recent rows"
    )
    others = details.get("comparisons") or {}
    if len(others) > 1:
        learnt = details.get("learnt_from", "everything")
        other = others["recent" if learnt == "everything" else "everything"]
        reason += (
            f" (learnt from {_LEARNT[learnt]}; the challenger that learnt from "
            f"{_LEARNT['recent' if learnt == 'everything' else 'everything']} had "
            f"{_num(other['challenger'].get(metric))})"
        )
    informed = details.get("learnt_from", "everything") == "everything"
    mode = policy.rollout.mode
    if mode != "direct" and policy.rollout.skip_when_conclusive and comparison.get("conclusive"):
        mode = "direct"
        reason += (
            f", better beyond doubt{_difference(comparison.get('difference') or (None, None))}: "
            "promoted without a " + policy.rollout.mode
        )
    elif (
        mode != "direct"
        and policy.rollout.skip_when_decayed
        and cycle.trigger == "performance"
        and comparison.get("better")
    ):
        mode = "direct"
        reason += (
            ", the performance trigger found the champion below its baseline: "
            "promoted without a " + policy.rollout.mode
        )
    elif (
        mode != "direct"
        and policy.rollout.skip_when_informed
        and policy.data.mode == "all"
        and informed
    ):
        mode = "direct"
        reason += (
            ", learnt from every row the champion did and newer ones, and is not worse "
            "beyond doubt on the held-out rows: promoted without a " + policy.rollout.mode
        )
    if mode == "direct":
        if policy.refit and "refit" not in details:
            refit = _refit(found, model, details, say=lambda text: say(f"cycle {key}: {text}"))
            details = _step(found, cycle, "refit", {"refit": refit})
        if details.get("refit"):
            challenger_ref = f"{model}@{details['refit']}"
            reason += (
                f"; refitted on the {details['holdout_rows']} held-out rows too, as "
                f"@{details['refit']}"
            )
        promote(challenger_ref, reason=reason, gate=comparison["gate"], project=found)
        return _finish(found, cycle, "promoted", reason)
    start_rollout(
        challenger_ref,
        mode=mode,
        share=policy.rollout.share,
        reason=reason,
        actor="forgeml loop",
        project=found,
    )
    say(f"cycle {key}: {challenger_ref} in {mode}")
    with found.store.write() as session:
        record = rows.update(session, cycle.id, stage="rollout", status="rolling_out", details={})
        return _cycle(record)


_LEARNT = {"everything": "everything so far", "recent": "the recent rows only"}


def _recent_span(policy: PolicySpec, *, trigger: str) -> timedelta | None:
    """The span of a second challenger's rows: for a cycle started by decay or drift only.

    With ``sliding_window`` the challenger learns from recent rows already: none.
    """
    if (
        policy.data.recent is None
        or policy.data.mode == "sliding_window"
        or trigger not in ("performance", "drift")
    ):
        return None
    return parse_duration(policy.data.recent)


def _half_budget(project: Project) -> tuple[int | None, str | None]:
    """Half the training budget (trials and time) of ``train.budget``, for the second challenger."""
    budget = project.spec.train.budget
    trials = None if budget.trials is None else max(1, budget.trials // 2)
    seconds = budget_seconds(budget.time)
    return trials, None if seconds is None else f"{seconds / 2:g}s"


def _better(
    judged: list[tuple[str, ModelVersion, Comparison]], metric: str
) -> tuple[str, ModelVersion, Comparison]:
    """Of the challengers judged on the same rows, the better one that may be promoted.

    One that passed its gate and is not worse beyond doubt beats one that did not; between
    two such, the higher metric on the held-out rows wins (ties: the one on everything).
    """
    best = judged[0]
    for candidate in judged[1:]:
        ok = candidate[2].gate.passed and not candidate[2].worse
        best_ok = best[2].gate.passed and not best[2].worse
        ours, theirs = candidate[2].challenger.get(metric), best[2].challenger.get(metric)
        if ok and (
            not best_ok
            or (ours is not None and (theirs is None or m.is_better(metric, ours, theirs)))
        ):
            best = candidate
    return best


def _not_promoted(
    comparison: Comparison, kind: str, version: ModelVersion, metric: str, count: int
) -> str:
    why = "its gate failed" if not comparison.gate.passed else "it is worse beyond doubt"
    which = f" (learnt from {_LEARNT[kind]})" if count > 1 else ""
    return (
        f"@{version.version}{which} was not promoted: {why} on the {comparison.rows} most "
        f"recent labelled rows ({metric} {_num(comparison.challenger.get(metric))} vs "
        f"champion {_num(comparison.champion.get(metric))}"
        f"{_difference(comparison.difference)})"
    )


def seen_before(project: Project, model: str, version: int) -> datetime | None:
    """Labelled predictions before this time may be in ``version``'s training rows.

    Known for a version a retraining cycle trained (where its held-out rows began, or,
    for the refit on them too, just after the newest of them); None for one trained on a
    dataset outside the loop.
    """
    with project.store.read() as session:
        for record in rows.latest(session, model, limit=1000):
            details = record.details or {}
            if details.get("refit") == version and details.get("newest"):
                return datetime.fromisoformat(str(details["newest"])) + timedelta(microseconds=1)
            if details.get("challenger") == version and details.get("split_at"):
                return datetime.fromisoformat(str(details["split_at"]))
    return None


def _refit(project: Project, model: str, details: dict[str, Any], say: Say) -> int | None:
    """The judged challenger's training, again on its training rows plus the held-out ones.

    A challenger is judged on the newest rows it did not learn from; once it has passed,
    the model shipped learns from them too, so it is as recent as the data allows (a
    scheduled retrain on everything labelled would be). None when that training fails
    its gate (the judged challenger is promoted instead).
    """
    rows_then = dataset(details["dataset"], project=project).to_arrow()
    holdout = pq.read_table(io.BytesIO(project.artifacts.get_bytes(details["holdout"])))
    names = [n for n in rows_then.column_names if n in holdout.column_names]
    both = pa.concat_tables(
        [rows_then.select(names), holdout.select(names)], promote_options="permissive"
    )
    version = ingest(both, name=f"{model}-retrain", project=project).version
    found = _trained_on(project, model, version.ref)
    if found is None:
        say(f"refitting on {version.ref}: the training rows and the held-out ones")
        result = train(
            dataset_ref=version.ref,
            project=project,
            promote=False,
            model=model,
            versus_champion=False,  # the judged challenger passed; this only adds rows
            split_by_time=False,
            progress=say,
        )
        found = result.model
    return None if found is None else found.version


def judged_through(project: Project, model: str, version: int) -> datetime | None:
    """The newest labelled prediction a cycle already used with ``version`` as the result.

    That is, the newest row of the cycle that trained ``version`` (it judged it on the rows
    up to there), or of a later cycle that kept it as the champion; None when no cycle did.
    Rows after it are evidence no cycle has used yet.
    """
    newest: datetime | None = None
    with project.store.read() as session:
        for record in rows.latest(session, model, limit=1000):
            details = record.details or {}
            trained = version in (details.get("challenger"), details.get("refit"))
            kept = record.status == "kept" and details.get("champion") == version
            at = details.get("newest") or (details.get("split_at") if trained else None)
            if (trained or kept) and at:
                found = to_utc(datetime.fromisoformat(str(at)))
                if found is not None and (newest is None or found > newest):
                    newest = found
    return newest


def _trained_on(project: Project, model: str, dataset_ref: str) -> ModelVersion | None:
    """A version of ``model`` already trained on ``dataset_ref`` (a resumed cycle)."""
    for version in versions(model, project=project):
        if version.signature.get("dataset") == dataset_ref:
            return version
    return None


def _step(project: Project, cycle: Cycle, stage: str, details: dict[str, Any]) -> dict[str, Any]:
    with project.store.write() as session:
        record = rows.update(session, cycle.id, stage=stage, status="running", details=details)
        return dict(record.details)


def _finish(
    project: Project,
    cycle: Cycle,
    status: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> Cycle:
    with project.store.write() as session:
        record = rows.update(
            session,
            cycle.id,
            stage="done",
            status=status,
            details={"reason": reason, **(details or {})},
        )
        done = _cycle(record)
    raise_alert(
        project,
        cycle.model,
        key=f"loop:{cycle.key}",
        kind="loop",
        message=f"retraining cycle {cycle.key}: {status} — {reason}",
        details={"cycle": cycle.key, "status": status},
    )
    return done


def _cycle(record: Any) -> Cycle:
    return Cycle(
        record.id,
        record.model,
        record.key,
        record.trigger,
        record.status,
        record.stage,
        dict(record.details or {}),
    )


def _metric(version: ModelVersion) -> str:
    return m.DEFAULT_METRIC[str(version.signature.get("task") or "binary")]


def _difference(bounds: tuple[float | None, float | None] | list[Any]) -> str:
    low, high = bounds
    if low is None or high is None:
        return ""
    return f"; 95% interval of its gain {low:+.4f} to {high:+.4f}"


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"
