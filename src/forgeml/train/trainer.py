"""``forgeml train``: a dataset version becomes a tested, gated, registered model.

Steps: resolve the dataset and the task → check the target and leakage → split → fit the
preprocessing for each candidate's strategy → search candidates within the budget →
refit the winner → calibrate and choose the threshold on validation data → store the
bundle and evaluate *through it* on test data (metrics, slices, importance) → evaluate
the champion on the same rows → gate → register, and promote only when the gate passes.
Everything is recorded in one tracked run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

from forgeml.config import TrainSpec
from forgeml.data import DatasetVersion, dataset, list_datasets
from forgeml.errors import ConfigError
from forgeml.features import FeaturePipeline, Strategy
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.registry import (
    ModelBundle,
    ModelVersion,
    load_bundle,
    promote,
    register_model,
    save_bundle,
)
from forgeml.registry.documents import finite_document
from forgeml.train import metrics as m
from forgeml.train.calibration import apply_calibration, choose_calibration
from forgeml.train.candidates import Candidate, Fitted, candidate
from forgeml.train.card import classification_curves, regression_curves, render_card
from forgeml.train.environment import code_version, package_versions
from forgeml.train.evaluation import CHAMPION, champion_metrics, encode_target, score
from forgeml.train.gates import GateResult, evaluate_gate
from forgeml.train.importance import group_features, native_gain, permutation_importance
from forgeml.train.predict import Predictor
from forgeml.train.search import SearchResult, Trial, parse_duration, run_search
from forgeml.train.slices import flagged, slice_metrics
from forgeml.train.splits import Split, cv_folds, make_split
from forgeml.train.task import TargetInfo, check_leakage, infer_task
from forgeml.train.tracking import Run, start_run

__all__ = ["TrainResult", "train"]

Progress = Callable[[str], None]
SMALL_DATA_ROWS = 20_000
CARD_CONTEXT = "model/card.json"  # what the model card shows; 'forgeml report' renders it


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


def train(
    *,
    dataset_ref: str | None = None,
    project: ProjectLike = None,
    target: str | None = None,
    trials: int | None = None,
    time_budget: str | None = None,
    exclude: Sequence[str] = (),
    register: bool = True,
    progress: Progress | None = None,
) -> TrainResult:
    """Train, evaluate, gate and (when it passes) register and promote a model."""
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    spec = found.spec.train
    if target:
        spec = spec.model_copy(update={"target": target})
    if exclude:
        spec = spec.model_copy(update={"exclude": [*spec.exclude, *exclude]})
    version = _dataset(found, dataset_ref or spec.dataset)
    name = spec.model or version.name
    say(f"loading {version.ref}")
    table = version.to_arrow()
    info = infer_task(table, spec.target, spec.task)
    table = table.filter(pc.is_valid(table.column(info.column)))
    features = [c for c in table.column_names if c != info.column and c not in spec.exclude]
    check_leakage(table, info, features)
    y = encode_target(table, info)
    split = make_split(table, spec.split, info, seed=spec.seed)
    metric = spec.metric or m.DEFAULT_METRIC[info.task]
    if metric not in m.HIGHER_IS_BETTER:
        raise ConfigError(
            f"unknown metric {metric!r} in train.metric",
            fix="use one of " + ", ".join(sorted(m.HIGHER_IS_BETTER)),
        )
    candidates = {c: candidate(c) for c in spec.candidates}
    class_weight = _class_weight(spec, info, y[split.train])

    with start_run(
        experiment=name,
        project=found,
        dataset=version,
        params={"train": spec.model_dump(mode="json")},
    ) as run:
        matrices = _Matrices(table, version.schema, info, spec, split)
        use_cv = len(split.train) + len(split.valid) < spec.split.cv_below_rows
        best_fit = _BestFit(metric)  # with hold-out, the winner need not be fitted twice

        def evaluate(
            cand: str, params: dict[str, Any], report: Callable[[int, float], None]
        ) -> float:
            return _evaluate(
                candidates[cand],
                params,
                info,
                metric,
                y,
                matrices,
                split,
                spec,
                class_weight,
                use_cv,
                report,
                None if use_cv else best_fit.offer,
            )

        def on_trial(trial: Trial, best: Trial | None) -> None:
            run.log_metric(
                "search/score",
                trial.score if trial.score is not None else math.nan,
                step=trial.number,
            )
            best_text = f"best {best.score:.4f} {best.candidate}" if best and best.score else ""
            score_text = f"{trial.score:.4f}" if trial.score is not None else trial.state
            say(f"trial {trial.number + 1}: {trial.candidate} {score_text}  {best_text}")

        budget_trials = trials if trials is not None else spec.budget.trials
        seconds = parse_duration(time_budget if time_budget is not None else spec.budget.time)
        threads = _threads(table.num_rows)
        limit = threadpool_limits(limits=threads)  # OpenMP in LightGBM, XGBoost, scikit-learn
        result = run_search(
            evaluate,
            {c: candidates[c].suggest for c in candidates},
            task=info.task,
            trials=budget_trials,
            seconds=seconds,
            higher_is_better=m.HIGHER_IS_BETTER[metric],
            seed=spec.seed,
            on_trial=on_trial,
        )
        say(f"refitting {result.candidate}")
        chosen = candidates[result.candidate]
        bundle, valid_scores = _final_bundle(
            chosen,
            result,
            info,
            y,
            matrices,
            split,
            spec,
            class_weight,
            best_fit.matching(result.candidate, result.params),
        )
        limit.restore_original_limits()
        sha = save_bundle(bundle, found.artifacts)
        predictor = Predictor(load_bundle(sha, found.artifacts))  # evaluate what is stored

        say("evaluating on the test rows")
        test_rows = table.take(pa.array(split.test))
        test_scores = predictor.scores(test_rows)
        test = score(info, test_scores, y[split.test], predictor.threshold, spec)
        # Validation scores come from the same model (parity with the stored bundle is tested).
        valid = score(info, valid_scores, y[split.valid], predictor.threshold, spec)
        slices = slice_metrics(
            {
                c: np.asarray(test_rows.column(c).to_pylist(), dtype=object)
                for c in spec.slices
                if c in table.column_names
            },
            lambda rows: score(
                info, test_scores[rows], y[split.test][rows], predictor.threshold, spec
            ),
        )
        importance = _importance(predictor, matrices, split, y, info, metric, spec, bundle)
        champion = champion_metrics(found, name, test_rows, y[split.test], info, spec)
        gate = evaluate_gate(found.spec.gate, test, champion=champion, slices=slices)

        signature = _signature(version, predictor.pipeline.input_columns, info)
        lineage = {
            "dataset": version.ref,
            "run_id": run.id,
            "split": split.method,
            "rows": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
        }
        context: dict[str, Any] = {
            "model": {
                "name": name,
                "version": None,
                "flavor": chosen.flavor,
                "candidate": result.candidate,
                "params": result.params,
                "task": info.task,
                "target": info.column,
                "classes": info.classes,
                "threshold": predictor.threshold,
                "calibration": predictor.calibration,
                "metric": metric,
            },
            "dataset": {
                "ref": version.ref,
                "rows": table.num_rows,
                "columns": table.num_columns,
                "split": {
                    "method": split.method,
                    "train": len(split.train),
                    "valid": len(split.valid),
                    "test": len(split.test),
                },
                "positive_rate": float(np.mean(y)) if info.task == "binary" else None,
            },
            "metrics": {"test": test, "valid": valid},
            "importance": importance,
            "slices": slices,
            "flagged": [
                list(f)
                for f in flagged(slices, test, metric, min_rows=found.spec.gate.min_slice_rows)
            ],
            "gate": gate.to_dict(),
            "search": {
                "metric": metric,
                "best": {
                    "candidate": result.candidate,
                    "params": result.params,
                    "score": result.score,
                },
                "trials": [
                    {
                        "number": t.number,
                        "candidate": t.candidate,
                        "score": t.score,
                        "state": t.state,
                        "seconds": t.seconds,
                    }
                    for t in result.trials
                ],
            },
            "lineage": lineage,
            "champion": champion,
        }
        context["curves"] = _curves(info, y[split.test], test_scores, spec.seed)
        if "confusion_matrix" in test:
            labels = [str(c) for c in info.classes or []]
            context["confusion_matrix"] = {"labels": labels, "matrix": test["confusion_matrix"]}
        context["lineage"] |= {
            "code_version": code_version(found.root),
            "packages": package_versions(),
        }
        _log_outcome(run, result, test, valid, gate, sha, signature, lineage)
        run.log_artifact(CARD_CONTEXT, _json_bytes(context))
        card = render_card(context).encode()
        run.log_artifact("model/card.html", card)

    registered: ModelVersion | None = None
    promoted = False
    if register and gate.passed:
        registered = register_model(
            name,
            sha,
            card_html=card,
            signature=signature,
            metrics={"test": test, "valid": valid},
            lineage=lineage,
            run_id=run.id,
            project=found,
        )
        promote(
            registered.ref,
            alias=CHAMPION,
            project=found,
            gate=gate.to_dict(),
            reason=f"trained by run {run.id[:8]}: {metric} {test.get(metric, math.nan):.4f}"
            + (f" vs champion {champion.get(metric, math.nan):.4f}" if champion else ""),
        )
        promoted = True
        context["model"]["version"] = registered.version
    return TrainResult(
        run_id=run.id,
        candidate=result.candidate,
        params=result.params,
        metric=metric,
        test=test,
        valid=valid,
        gate=gate,
        model=registered,
        promoted=promoted,
        champion=champion,
        trials=result.trials,
        context=context,
        bundle=bundle,
    )


class _Matrices:
    """Feature matrices per (strategy, fold), fitted on that fold's training rows only."""

    def __init__(
        self,
        table: pa.Table,
        schema: dict[str, Any],
        info: TargetInfo,
        spec: TrainSpec,
        split: Split,
    ) -> None:
        self.table, self.schema, self.info, self.spec, self.split = table, schema, info, spec, split
        self._cache: dict[tuple[str, int], tuple[FeaturePipeline, np.ndarray, np.ndarray]] = {}

    def get(
        self, strategy: Strategy, fold: int, train: np.ndarray, valid: np.ndarray
    ) -> tuple[FeaturePipeline, np.ndarray, np.ndarray]:
        key = (strategy, fold)
        if key not in self._cache:
            pipeline = FeaturePipeline.fit(
                self.table.take(pa.array(train)),
                self.schema,
                target=self.info.column,
                strategy=strategy,
                exclude=self.spec.exclude,
            )
            self._cache[key] = (
                pipeline,
                pipeline.transform(self.table.take(pa.array(train))),
                pipeline.transform(self.table.take(pa.array(valid))),
            )
        return self._cache[key]


def _evaluate(
    cand: Candidate,
    params: dict[str, Any],
    info: TargetInfo,
    metric: str,
    y: np.ndarray,
    matrices: _Matrices,
    split: Split,
    spec: TrainSpec,
    class_weight: Any,
    use_cv: bool,
    report: Callable[[int, float], None],
    keep: Callable[[str, dict[str, Any], Fitted, np.ndarray, float], None] | None = None,
) -> float:
    if use_cv:
        rows = np.concatenate([split.train, split.valid])
        folds = cv_folds(matrices.table, rows, spec.split, info, seed=spec.seed)
    else:
        folds = [(split.train, split.valid)]
    values = []
    for number, (train, valid) in enumerate(folds):
        _pipe, x_train, x_valid = matrices.get(
            cand.strategy, number if use_cv else -1, train, valid
        )
        fitted = cand.fit(
            info.task, params, spec.seed, class_weight, x_train, y[train], x_valid, y[valid]
        )
        scores = _estimator_scores(fitted.estimator, x_valid, info)
        values.append(_metric(score(info, scores, y[valid], 0.5, spec), metric))
        report(number, float(np.mean(values)))
    if keep is not None:
        keep(cand.name, params, fitted, scores, values[-1])
    return float(np.mean(values))


class _BestFit:
    """The best hold-out trial's fitted model and validation scores, for reuse as the winner."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.found: tuple[str, dict[str, Any], Fitted, np.ndarray, float] | None = None

    def offer(
        self, name: str, params: dict[str, Any], fitted: Fitted, scores: np.ndarray, value: float
    ) -> None:
        if np.isfinite(value) and (
            self.found is None or m.is_better(self.metric, value, self.found[4])
        ):
            self.found = (name, params, fitted, scores, value)

    def matching(self, name: str, params: dict[str, Any]) -> tuple[Fitted, np.ndarray] | None:
        if self.found and self.found[0] == name and self.found[1] == params:
            return self.found[2], self.found[3]
        return None


def _final_bundle(
    cand: Candidate,
    result: SearchResult,
    info: TargetInfo,
    y: np.ndarray,
    matrices: _Matrices,
    split: Split,
    spec: TrainSpec,
    class_weight: Any,
    reuse: tuple[Fitted, np.ndarray] | None,
) -> tuple[ModelBundle, np.ndarray]:
    """The winner's bundle, and its (calibrated) scores on the validation rows."""
    pipeline, x_train, x_valid = matrices.get(cand.strategy, -1, split.train, split.valid)
    if reuse is not None:  # the search already fitted exactly this model on these rows
        fitted, raw = reuse
    else:
        fitted = cand.fit(
            info.task,
            result.params,
            spec.seed,
            class_weight,
            x_train,
            y[split.train],
            x_valid,
            y[split.valid],
        )
        raw = _estimator_scores(fitted.estimator, x_valid, info)
    estimator = fitted.estimator
    if cand.flavor == "xgboost" and fitted.best_iteration:
        estimator = estimator.get_booster()[: fitted.best_iteration]  # keep only the trees used
    extras: dict[str, Any] = {
        "task": info.task,
        "classes": info.classes,
        "target": info.column,
        "candidate": cand.name,
        "threshold": None,
        "calibration": None,
    }
    calibrator = None
    if info.task == "binary":
        calibration = (
            None
            if spec.calibrate == "never"
            else choose_calibration(
                y[split.valid], raw, seed=spec.seed, required=spec.calibrate == "always"
            )
        )
        if calibration is not None:
            raw = apply_calibration(calibration.method, calibration.model, raw)
            calibrator, extras["calibration"] = calibration.model, calibration.method
        extras["threshold"] = m.choose_threshold(y[split.valid], raw, spec.costs)
    return ModelBundle(cand.flavor, estimator, pipeline.to_dict(), extras, calibrator), raw


def _estimator_scores(estimator: Any, x: np.ndarray, info: TargetInfo) -> np.ndarray:
    if info.task == "regression":
        return np.asarray(estimator.predict(x), dtype=np.float64)
    proba = np.asarray(estimator.predict_proba(x), dtype=np.float64)
    return proba[:, 1] if info.task == "binary" else proba


def _metric(values: dict[str, Any], metric: str) -> float:
    value = values.get(metric)
    return float(value) if isinstance(value, int | float) else math.nan


def _importance(
    predictor: Predictor,
    matrices: _Matrices,
    split: Split,
    y: np.ndarray,
    info: TargetInfo,
    metric: str,
    spec: TrainSpec,
    bundle: ModelBundle,
) -> dict[str, Any]:
    x_valid = predictor.pipeline.transform(matrices.table.take(pa.array(split.valid)))
    sign = 1.0 if m.HIGHER_IS_BETTER[metric] else -1.0
    y_valid = y[split.valid]

    def value(x: np.ndarray) -> float:
        return sign * _metric(
            score(
                info, predictor.scores_from_matrix(x), y_valid[: len(x)], predictor.threshold, spec
            ),
            metric,
        )

    groups = group_features(predictor.pipeline.feature_names, predictor.pipeline.input_columns)
    return {
        "permutation": permutation_importance(x_valid, value, groups, seed=spec.seed),
        "gain": native_gain(bundle.estimator, predictor.pipeline.feature_names),
    }


def _dataset(project: Project, ref: str | None) -> DatasetVersion:
    if ref:
        return dataset(ref, project=project)
    names = [d.name for d in list_datasets(project=project)]
    if len(names) == 1:
        return dataset(names[0], project=project)
    raise ConfigError(
        "which dataset to train on is not set"
        + (f" (the project has {', '.join(names)})" if names else " and the project has none"),
        fix="set train.dataset in forgeml.yaml or pass --dataset NAME[@VERSION]"
        + ("" if names else "; ingest data first with 'forgeml ingest'"),
    )


def _curves(info: TargetInfo, y: np.ndarray, scores: np.ndarray, seed: int) -> dict[str, Any]:
    if info.task == "binary":
        return classification_curves(y, scores)
    if info.task == "regression":
        return regression_curves(y, scores, seed=seed)
    return {}


def _threads(rows: int) -> int:
    """Small data trains faster on one thread; thread pools only pay off on larger data."""
    return 1 if rows < SMALL_DATA_ROWS else max(1, os.cpu_count() or 1)


def _class_weight(spec: TrainSpec, info: TargetInfo, y_train: np.ndarray) -> Any:
    if spec.class_weight == "none" or not info.is_classification:
        return None
    if spec.class_weight == "balanced":
        return "balanced"
    rates = np.bincount(y_train) / max(1, len(y_train))
    return "balanced" if rates.min() < 0.2 else None  # auto: weight rare classes up


def _signature(version: DatasetVersion, inputs: list[str], info: TargetInfo) -> dict[str, Any]:
    by_name = {c["name"]: c for c in version.schema["columns"]}
    return {
        "inputs": [by_name[c] for c in inputs if c in by_name],
        "target": info.column,
        "task": info.task,
        "classes": info.classes,
        "dataset": version.ref,
    }


def _log_outcome(
    run: Run,
    result: SearchResult,
    test: dict[str, Any],
    valid: dict[str, Any],
    gate: GateResult,
    sha: str,
    signature: dict[str, Any],
    lineage: dict[str, Any],
) -> None:
    run.log_params(
        {"candidate": result.candidate, **{f"model.{k}": v for k, v in result.params.items()}}
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
