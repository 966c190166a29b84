"""``forgeml train``: a dataset version becomes a tested, gated, registered model.

Steps: resolve the dataset and the task → check the target and leakage → split → fit the
preprocessing for each candidate's strategy → search candidates within the budget →
calibrate and choose the threshold on the validation rows' scores → refit the winner on
training + validation rows → store the
bundle and evaluate *through it* on test data (metrics, slices, importance) → evaluate
the champion on the same rows → gate → register, and promote only when the gate passes.
Everything is recorded in one tracked run.

The steps live in three modules: :mod:`forgeml.training.plan` (checks and split, before any
run starts), :mod:`forgeml.training.fitting` (search and the winner's bundle) and
:mod:`forgeml.training.outcome` (evaluation through the stored bundle, gate, records).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadpoolctl import threadpool_limits

from forgeml.errors import ConfigError
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry import ModelBundle, ModelVersion
from forgeml.training.fitting import search_and_fit, training_threads
from forgeml.training.gates import GateResult
from forgeml.training.outcome import CARD_CONTEXT, evaluate_winner, register_outcome
from forgeml.training.plan import plan_training
from forgeml.training.search import Trial
from forgeml.training.tracking import start_run

__all__ = ["CARD_CONTEXT", "TrainResult", "train"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced and decided."""

    run_id: str
    candidate: str
    params: dict[str, Any]
    metric: str
    test: dict[str, Any]
    valid: dict[str, Any]
    gate: GateResult
    model: ModelVersion | None
    promoted: bool
    champion: dict[str, Any] | None = None
    trials: list[Trial] = field(default_factory=list)
    bundle: ModelBundle | None = None  # the trained bundle, as it was before it was stored
    context: dict[str, Any] = field(default_factory=dict)  # everything the model card shows
    warnings: list[str] = field(default_factory=list)  # e.g. a class with very few rows

    def __repr__(self) -> str:
        score = self.test.get(self.metric)
        shown = f"{score:.4f}" if isinstance(score, int | float) else "n/a"
        gate = "passed" if self.gate.passed else "failed"
        model = self.model.ref if self.model is not None else "not registered"
        return (
            f"<TrainResult {self.candidate} test {self.metric} {shown}, gate {gate}, "
            f"{model}, run {self.run_id[:8]}>"
        )


def train(
    *,
    dataset_ref: str | None = None,
    project: ProjectLike = None,
    target: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    trials: int | None = None,
    time_budget: str | None = None,
    exclude: Sequence[str] = (),
    register: bool = True,
    promote: bool = True,
    model: str | None = None,
    progress: Progress | None = None,
    versus_champion: bool = True,
    backend: str = "local",
    address: str | None = None,
    split_by_time: bool = True,
) -> TrainResult:
    """Train, evaluate, gate and (when it passes) register and promote a model.

    With ``promote=False`` a model that passes is registered but the alias stays where it
    is (the retraining loop decides promotion on the most recent data itself). ``model``
    names the registered model (default: ``train.model``, else the dataset's name).
    ``target``, ``task`` and ``metric`` override the spec's ``train:`` keys.
    ``versus_champion=False`` skips the gate's comparison with the champion on this
    dataset's test rows (the loop compares both on rows neither was fitted on instead).
    ``backend="ray"`` runs the search's trials as Ray tasks on the cluster at ``address``
    (``auto``: the one started on this machine; None: ``RAY_ADDRESS``, else a Ray started
    for this process), with the same records, gate and registration as ``"local"``.
    ``split_by_time=False`` splits the rows as if ``train.split.time_column`` were not set
    (the retraining loop holds out the newest rows by time itself, and its training rows
    carry no time column).
    When the spec names ``train.entry_point``, the user's function fits the model instead
    of the search (:mod:`forgeml.training.entry_point`); the gate and registration are the
    same.
    """
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    if found.spec.train.entry_point:  # the user's own training function
        from forgeml.training.entry_point import train_with_entry_point

        return train_with_entry_point(
            dataset_ref=dataset_ref,
            project=found,
            target=target,
            task=task,
            metric=metric,
            exclude=exclude,
            register=register,
            promote_it=promote,
            model=model,
            versus_champion=versus_champion,
            say=say,
            split_by_time=split_by_time,
        )
    if backend not in ("local", "ray"):
        raise ConfigError(
            f"training backend {backend!r} is not known", fix="use backend local or ray"
        )
    if backend == "ray":  # before anything is recorded: Ray installed, the cluster reached
        from forgeml.training.ray_search import connect

        connect(address)
    began, cpu_began = time.monotonic(), time.process_time()  # the budget covers it all
    plan = plan_training(
        dataset_ref=dataset_ref,
        project=found,
        target=target,
        task=task,
        metric=metric,
        exclude=exclude,
        say=say,
        model=model,
        split_by_time=split_by_time,
    )
    # Native thread pools (OpenMP) stay as small for the evaluation as for the search: a
    # small table's predictions on every core only wait on each other under load.
    threads = threadpool_limits(limits=training_threads(plan.table.num_rows))
    with (
        threads,
        start_run(
            experiment=plan.name,
            project=plan.project,
            dataset=plan.version,
            params={"train": plan.spec.model_dump(mode="json")},
            tags={"metric": plan.metric},
        ) as run,
    ):
        winner = search_and_fit(
            plan,
            run,
            trials=trials,
            time_budget=time_budget,
            say=say,
            began=began,
            cpu_began=cpu_began,
            backend=backend,
            address=address,
        )
        outcome = evaluate_winner(plan, run, winner, say, versus_champion=versus_champion)

    registered = None
    if register and outcome.gate.passed:
        with threadpool_limits(limits=training_threads(plan.table.num_rows)):
            registered = register_outcome(plan, run, outcome, promote_it=promote)
    return TrainResult(
        run_id=run.id,
        candidate=winner.search.candidate,
        params=winner.search.params,
        metric=plan.metric,
        test=outcome.test,
        valid=outcome.valid,
        gate=outcome.gate,
        model=registered,
        promoted=registered is not None and promote,
        champion=outcome.champion,
        trials=winner.search.trials,
        bundle=winner.bundle,
        context=outcome.context,
        warnings=list(plan.warnings),
    )
