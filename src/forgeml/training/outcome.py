"""The outcome of a training run: the stored bundle evaluated, gated, recorded and registered.

The winner's bundle is stored and loaded back, and everything the model card shows is
measured through the loaded bundle: metrics on the test rows, slices, permutation
importance, the champion on the same rows and the gate. The run records all of it; a
model that passes the gate is registered and promoted.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from forgeml.registry import (
    ModelVersion,
    load_bundle,
    model_version,
    promote,
    register_model,
    save_bundle,
)
from forgeml.registry.documents import finite_document
from forgeml.training import metrics as m
from forgeml.training.baseline import baseline_metrics
from forgeml.training.budget import AFTER_MIN_S
from forgeml.training.card import classification_curves, regression_curves, render_card
from forgeml.training.champion import champion_metrics
from forgeml.training.environment import code_version, package_versions
from forgeml.training.evaluation import CHAMPION, score, score_one
from forgeml.training.fitting import Winner
from forgeml.training.gates import GateResult, evaluate_gate
from forgeml.training.importance import (
    group_features,
    native_gain,
    permutation_importance,
    plan_permutation,
    tree_count,
    within_time,
)
from forgeml.training.plan import TrainingPlan
from forgeml.training.predict import Predictor
from forgeml.training.slices import flagged, slice_metrics
from forgeml.training.task import TargetInfo
from forgeml.training.tracking import Run

__all__ = ["CARD_CONTEXT", "Outcome", "evaluate_winner", "register_outcome"]

CARD_CONTEXT = "model/card.json"  # what the model card shows; 'forgeml report' renders it
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What the stored bundle scored, the gate's verdict, and what the run recorded."""

    sha: str  # the stored bundle's id
    test: dict[str, Any]
    valid: dict[str, Any]
    gate: GateResult
    champion: dict[str, Any] | None
    signature: dict[str, Any]
    lineage: dict[str, Any]
    context: dict[str, Any]  # everything the model card shows
    card: bytes


def evaluate_winner(
    plan: TrainingPlan, run: Run, winner: Winner, say: Progress, *, versus_champion: bool = True
) -> Outcome:
    """Store the bundle, evaluate it as stored, gate it, and record it all in ``run``.

    ``versus_champion=False`` leaves the comparison with the champion to the caller (the
    retraining loop judges both on recent rows neither was fitted on).
    """
    info, spec, split, y = plan.info, plan.spec, plan.split, plan.y
    sha = save_bundle(winner.bundle, plan.project.artifacts)
    predictor = Predictor(load_bundle(sha, plan.project.artifacts))  # evaluate what is stored

    say("evaluating on the test rows")
    test_rows = plan.rows(split.test)
    began = time.monotonic()
    test_scores = predictor.scores(test_rows)
    row_seconds = (time.monotonic() - began) / max(1, len(split.test))
    test, slices, champion, gate = judge_on_test_rows(
        plan, info, y, predictor, test_rows, test_scores, versus_champion=versus_champion
    )
    # Validation scores come from the same model (parity with the stored bundle is tested).
    valid = score(info, winner.valid_scores, y[split.valid], predictor.threshold, spec)
    importance = _importance(plan, predictor, winner, row_seconds)
    signature = _signature(plan, predictor.pipeline.input_columns)
    lineage = {
        "dataset": plan.version.ref,
        "run_id": run.id,
        "split": split.method,
        "rows": {
            "train": len(split.train),
            "valid": len(split.valid),
            "test": len(split.test),
            "fitted": winner.refit["rows"],  # the stored model's own training rows
        },
    }
    if plan.features:  # the feature service, view versions and definitions it was built from
        lineage["features"] = plan.features
    context = _context(plan, winner, predictor, test, valid, slices, importance, gate, champion)
    context["lineage"] = lineage | {
        "code_version": code_version(plan.project.root),
        "packages": package_versions(),
    }
    context["curves"] = _curves(info, y[split.test], test_scores, spec.seed)
    if "confusion_matrix" in test:
        labels = [str(c) for c in info.classes or []]
        context["confusion_matrix"] = {"labels": labels, "matrix": test["confusion_matrix"]}
    _log_outcome(run, winner, test, valid, gate, sha, signature, lineage)
    run.log_artifact(CARD_CONTEXT, _json_bytes(context))
    card = render_card(context).encode()
    run.log_artifact("model/card.html", card)
    return Outcome(sha, test, valid, gate, champion, signature, lineage, context, card)


def judge_on_test_rows(
    plan: TrainingPlan,
    info: TargetInfo,
    y: np.ndarray,
    predictor: Predictor,
    test_rows: Any,
    test_scores: np.ndarray,
    *,
    versus_champion: bool,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, GateResult]:
    """Test metrics, slice metrics, the champion on the same rows, and the gate's verdict.

    ``versus_champion=False`` drops the gate's comparison with the champion (the caller
    judges both elsewhere)."""
    spec, split = plan.spec, plan.split
    y_test = y[split.test]
    test = score(info, test_scores, y_test, predictor.threshold, spec)
    slices = slice_metrics(
        {
            c: np.asarray(test_rows.column(c).to_pylist(), dtype=object)
            for c in spec.slices
            if c in test_rows.column_names
        },
        lambda rows: score(info, test_scores[rows], y_test[rows], predictor.threshold, spec),
    )
    gate_spec = plan.project.spec.gate
    champion = None
    if versus_champion:
        champion = champion_metrics(
            plan.project,
            plan.name,
            test_rows,
            y_test,
            info,
            spec,
            scores=test_scores,
            threshold=predictor.threshold,
        )
    else:
        gate_spec = gate_spec.model_copy(update={"versus_champion": {}})
    gate = evaluate_gate(
        gate_spec,
        test,
        champion=champion,
        slices=slices,
        baseline=baseline_metrics(info, y[split.train], y_test, spec),
        metric=plan.metric,
    )
    return test, slices, champion, gate


def register_outcome(
    plan: TrainingPlan, run: Run, outcome: Outcome, *, promote_it: bool = True
) -> ModelVersion:
    """Register the stored bundle as a new version (with its reference profile for
    monitoring) and, unless ``promote_it`` is False, promote it to champion."""
    registered = register_model(
        plan.name,
        outcome.sha,
        card_html=outcome.card,
        signature=outcome.signature,
        metrics={"test": outcome.test, "valid": outcome.valid},
        lineage=outcome.lineage,
        run_id=run.id,
        project=plan.project,
    )
    from forgeml.monitor.references import store_reference

    store_reference(registered, project=plan.project, table=plan.table)
    outcome.context["model"]["version"] = registered.version
    if not promote_it:
        return registered
    metric, champion = plan.metric, outcome.champion
    promote(
        registered.ref,
        alias=CHAMPION,
        project=plan.project,
        gate=outcome.gate.to_dict(),
        reason=f"trained by run {run.id[:8]}: {metric} {outcome.test.get(metric, math.nan):.4f}"
        + (f" vs champion {champion.get(metric, math.nan):.4f}" if champion else ""),
    )
    return model_version(registered.ref, project=plan.project)  # with the alias it now holds


def _importance(
    plan: TrainingPlan, predictor: Predictor, winner: Winner, row_seconds: float
) -> dict[str, Any]:
    """Permutation importance through the stored bundle on test rows (the stored model was
    fitted on the training and validation rows), within a cost budget and the time left
    (less the monitoring reference's scoring); native gain."""
    pipeline = predictor.pipeline
    groups = group_features(pipeline.feature_names, pipeline.input_columns)
    method = plan_permutation(
        len(plan.split.test), groups=len(groups), trees=tree_count(winner.bundle.estimator)
    )
    left = winner.budget.left()
    if left is not None:
        from forgeml.monitor.references import SCORE_ROWS

        later = row_seconds * min(SCORE_ROWS, plan.table.num_rows) + AFTER_MIN_S
        method = within_time(
            method, groups=len(groups), seconds=left - later, row_seconds=row_seconds
        )
    permutation = None
    if method.rows:
        rng = np.random.default_rng(plan.spec.seed)
        sample = np.sort(rng.choice(len(plan.split.test), method.rows, replace=False))
        rows = plan.split.test[sample]
        sign = 1.0 if m.HIGHER_IS_BETTER[plan.metric] else -1.0

        def value(x: np.ndarray) -> float:
            scores = predictor.scores_from_matrix(x)
            return sign * score_one(
                plan.info, scores, plan.y[rows], predictor.threshold, plan.spec, plan.metric
            )

        x = pipeline.transform(plan.rows(rows))
        permutation = permutation_importance(
            x, value, groups, seed=plan.spec.seed, repeats=method.repeats
        )
    return {
        "permutation": permutation,
        "permutation_method": method.to_dict(),
        "gain": native_gain(winner.bundle.estimator, pipeline.feature_names),
    }


def _context(
    plan: TrainingPlan,
    winner: Winner,
    predictor: Predictor,
    test: dict[str, Any],
    valid: dict[str, Any],
    slices: dict[str, Any],
    importance: dict[str, Any],
    gate: GateResult,
    champion: dict[str, Any] | None,
) -> dict[str, Any]:
    info, split, result = plan.info, plan.split, winner.search
    return {
        "model": {
            "name": plan.name,
            "version": None,
            "flavor": winner.candidate.flavor,
            "candidate": result.candidate,
            "params": result.params,
            "task": info.task,
            "target": info.column,
            "classes": info.classes,
            "positive_class": info.positive_class,
            "threshold": predictor.threshold,
            "calibration": predictor.calibration,
            "metric": plan.metric,
            "refit": winner.refit,
        },
        "dataset": {
            "ref": plan.version.ref,
            "rows": plan.table.num_rows,
            "columns": plan.table.num_columns,
            "split": {
                "method": split.method,
                "train": len(split.train),
                "valid": len(split.valid),
                "test": len(split.test),
            },
            "positive_rate": float(np.mean(plan.y)) if info.task == "binary" else None,
        },
        "metrics": {"test": test, "valid": valid},
        "importance": importance,
        "slices": slices,
        "flagged": [
            list(f)
            for f in flagged(
                slices, test, plan.metric, min_rows=plan.project.spec.gate.min_slice_rows
            )
        ],
        "gate": gate.to_dict(),
        "search": {
            "metric": plan.metric,
            "best": {"candidate": result.candidate, "params": result.params, "score": result.score},
            "finalists": result.finalists,  # each one's score on redrawn folds
            "trials": [
                {
                    "number": t.number,
                    "candidate": t.candidate,
                    "params": t.params,
                    "score": t.score,
                    "state": t.state,
                    "seconds": t.seconds,
                }
                for t in result.trials
            ],
        },
        "champion": champion,
    }


def _curves(info: TargetInfo, y: np.ndarray, scores: np.ndarray, seed: int) -> dict[str, Any]:
    if info.task == "binary":
        return classification_curves(y, scores)
    if info.task == "regression":
        return regression_curves(y, scores, seed=seed)
    return {}


def _signature(plan: TrainingPlan, inputs: list[str]) -> dict[str, Any]:
    by_name = {c["name"]: c for c in plan.schema["columns"]}
    return {
        "inputs": [by_name[c] for c in inputs if c in by_name],
        "target": plan.info.column,
        "task": plan.info.task,
        "classes": plan.info.classes,
        "dataset": plan.version.ref,
    }


def _log_outcome(
    run: Run,
    winner: Winner,
    test: dict[str, Any],
    valid: dict[str, Any],
    gate: GateResult,
    sha: str,
    signature: dict[str, Any],
    lineage: dict[str, Any],
) -> None:
    result = winner.search
    run.log_params(
        {
            "candidate": result.candidate,
            "calibration": winner.bundle.extras.get("calibration"),
            **{f"model.{k}": v for k, v in result.params.items()},
        }
    )
    run.log_metrics({f"test/{k}": v for k, v in test.items() if isinstance(v, int | float)})
    run.log_metrics({f"valid/{k}": v for k, v in valid.items() if isinstance(v, int | float)})
    run.set_tag("gate", "passed" if gate.passed else "failed")
    # Storing the manifest's bytes again yields the same sha (content addressing).
    run.log_artifact("model/bundle", run.project.artifacts.get_bytes(sha))
    for artifact, document in (
        ("signature", signature),
        ("metrics", {"test": test, "valid": valid}),
        ("lineage", lineage),
        ("gate", gate.to_dict()),
    ):
        run.log_artifact(f"model/{artifact}.json", _json_bytes(document))


def _json_bytes(document: Any) -> bytes:
    return json.dumps(finite_document(document, "a run document"), allow_nan=False).encode()
