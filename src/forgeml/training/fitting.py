"""Search the candidates, then build the winner's bundle: model, preprocessing, calibration.

Each trial is scored on the validation rows (or by cross-validation on small data). With
a hold-out, the best trial's fitted model and validation scores are kept, so the winner
is not fitted twice; LightGBM hands its validation scores back from early stopping, so
they are not predicted again either.

The time budget reaches into the trials: the boosted trees stop adding trees once the
search's deadline has passed, and cross-validation stops between folds (see
:mod:`forgeml.training.search` for how such a trial is counted). On a large table LightGBM's
defaults are tried before HistGradientBoosting's, which trains much slower there, and
under a time budget LightGBM is paced to it: a probe of a few rounds measures how long its
rounds take, and when its defaults would not converge in a share of the time left, the
search starts it from a cheaper configuration that learns faster (see
:mod:`forgeml.training.pace`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from forgeml.errors import ConfigError
from forgeml.features import FeaturePipeline, Strategy
from forgeml.registry import ModelBundle
from forgeml.report.text import duration
from forgeml.training import metrics as m
from forgeml.training.budget import TimeBudget
from forgeml.training.calibration import apply_calibration, choose_calibration
from forgeml.training.candidates import Candidate, Fitted
from forgeml.training.deadline import passed
from forgeml.training.evaluation import score_one
from forgeml.training.finalists import FINALIST_RESERVE_SHARE, rescore_finalists, trial_loss
from forgeml.training.objectives import COUNT_OBJECTIVES, count_target, with_count_objectives
from forgeml.training.pace import paced_space, paced_start, paced_warm_starts, probe
from forgeml.training.plan import TrainingPlan
from forgeml.training.refit import refit, refit_rounds, rounds_of
from forgeml.training.schedule import trail_for
from forgeml.training.search import Cut, SearchResult, Trial, parse_duration, run_search
from forgeml.training.splits import cv_folds, resolve_method
from forgeml.training.tracking import Run

__all__ = [
    "Matrices",
    "ScoringCosts",
    "Winner",
    "estimator_scores",
    "evaluate_trial",
    "metric_value",
    "search_and_fit",
    "search_order",
    "training_threads",
]

Progress = Callable[[str], None]
SMALL_DATA_ROWS = 20_000
# From this many training rows on, LightGBM's defaults are tried first.
LARGE_DATA_ROWS = 10_000
COST_SAMPLE_ROWS = 1_000  # validation rows scored to time a model whose scores came free
Keep = Callable[[str, dict[str, Any], Fitted, np.ndarray, float], None]


@dataclass(frozen=True)
class Winner:
    """The search's result and the winner's bundle, with its scores on the validation rows.

    ``valid_scores`` come from the search's model of the winner, fitted on the training
    rows only (the stored model is refitted on training + validation rows, see ``refit``),
    calibrated as the stored bundle calibrates.
    """

    search: SearchResult
    candidate: Candidate
    bundle: ModelBundle
    valid_scores: np.ndarray
    refit: dict[str, Any]  # rows the stored model was fitted on, its rounds, or why not
    budget: TimeBudget


class Matrices:
    """Feature matrices per (strategy, fold), fitted on that fold's training rows only."""

    def __init__(self, plan: TrainingPlan) -> None:
        self.plan = plan
        self._cache: dict[tuple[str, int], tuple[FeaturePipeline, np.ndarray, np.ndarray]] = {}

    def get(
        self, strategy: Strategy, fold: int, train: np.ndarray, valid: np.ndarray
    ) -> tuple[FeaturePipeline, np.ndarray, np.ndarray]:
        key = (strategy, fold)
        if key not in self._cache:
            plan = self.plan
            rows = plan.rows(train)
            pipeline = self.fit_pipeline(strategy, rows)
            self._cache[key] = (
                pipeline,
                pipeline.transform(rows),
                pipeline.transform(plan.rows(valid)),
            )
        return self._cache[key]

    def fit_pipeline(self, strategy: Strategy, rows: Any) -> FeaturePipeline:
        """The preprocessing of ``strategy`` fitted on ``rows`` (an Arrow table)."""
        plan = self.plan
        return FeaturePipeline.fit(
            rows,
            plan.schema,
            target=plan.info.column,
            strategy=strategy,
            exclude=plan.spec.exclude,
        )


def trial_clock(number: int, trials: int | None, elapsed: float, seconds: float | None) -> str:
    """Where the search stands: trial n of N, time spent, and time left of the budget.

    >>> trial_clock(3, 20, 12.4, 120.0)
    'trial 3/20 · 12s elapsed, 1m 48s left of 2m 00s'
    >>> trial_clock(3, None, 12.4, None)
    'trial 3 · 12s elapsed'
    """
    text = f"trial {number}/{trials}" if trials else f"trial {number}"
    text += f" · {duration(elapsed)} elapsed"
    if seconds:
        text += f", {duration(max(0.0, seconds - elapsed))} left of {duration(seconds)}"
    return text


def search_and_fit(
    plan: TrainingPlan,
    run: Run,
    *,
    trials: int | None,
    time_budget: str | None,
    say: Progress,
    began: float | None = None,
    cpu_began: float | None = None,
    backend: str = "local",
    address: str | None = None,
) -> Winner:
    """Search within the budget, logging each trial to ``run``; build the winner's bundle.

    The time budget counts from ``began`` (a :func:`time.monotonic` time; default: now;
    ``cpu_began`` is :func:`time.process_time` then) and covers the refit and the steps
    after it too (see :mod:`forgeml.training.budget`).
    ``trials`` (else ``train.budget.trials``) caps the trials only when set.
    ``backend="ray"`` runs the trials as Ray tasks on the cluster at ``address`` (see
    :mod:`forgeml.training.ray_search`); the winner is then fitted again here.
    """
    spec = plan.spec
    seconds = parse_duration(time_budget if time_budget is not None else spec.budget.time)
    from forgeml.monitor.references import SCORE_ROWS

    budget = TimeBudget(
        time.monotonic() if began is None else began,
        seconds,
        cpu_began or time.process_time(),
        # after the refit: the test rows, and the monitoring reference's rows
        scored_rows=len(plan.split.test) + min(SCORE_ROWS, plan.table.num_rows),
    )
    train_rows = len(plan.split.train)
    fitted_rows = train_rows + len(plan.split.valid)
    matrices = Matrices(plan)
    use_cv = len(plan.split.train) + len(plan.split.valid) < spec.split.cv_below_rows
    best_fit = _BestFit(plan.metric)  # with hold-out, the winner need not be fitted twice
    costs = ScoringCosts()  # each trial's model's seconds to score a row
    budget_trials = trials if trials is not None else spec.budget.trials

    def evaluate(
        cand: str,
        params: dict[str, Any],
        report: Callable[[int, float], None],
        deadline: float | None,
    ) -> float | Cut:
        keep = None if use_cv else best_fit.offer
        return evaluate_trial(
            plan, plan.candidates[cand], params, matrices, use_cv, report, keep, deadline, costs
        )

    redraw = use_cv and resolve_method(spec.split, plan.info) in ("stratified", "random")
    higher = m.HIGHER_IS_BETTER[plan.metric]
    leaders: dict[str, Trial] = {}  # each candidate's best trial: the finalists' costs

    def on_trial(trial: Trial, best: Trial | None) -> None:
        held = leaders.get(trial.candidate)
        if trial.state == "complete" and (
            held is None or trial_loss(trial, higher) < trial_loss(held, higher)
        ):
            leaders[trial.candidate] = trial
        value = trial.score if trial.score is not None else math.nan
        best_value = best.score if best is not None and best.score is not None else math.nan
        run.log_metrics({"search/score": value, "search/best": best_value}, step=trial.number)
        best_text = f"best {best.score:.4f} {best.candidate}" if best and best.score else ""
        if trial.state == "stopped":
            score_text = "stopped at the time budget"
        elif trial.score is not None and trial.stopped:
            score_text = f"{trial.score:.4f} (stopped at the time budget)"
        else:
            score_text = f"{trial.score:.4f}" if trial.score is not None else trial.state
        clock = trial_clock(
            trial.number + 1, budget_trials, time.monotonic() - budget.began, seconds
        )
        say(f"{clock}: {trial.candidate} {score_text}  {best_text}".rstrip())

    order = search_order(list(plan.candidates), len(plan.split.train))
    if any(c.flavor == "sklearn" for c in plan.candidates.values()):
        # Storing a scikit-learn model first loads skops, which takes seconds: paid now, it
        # comes out of the search's share of a time budget, not after it.
        from forgeml.registry.skops_module import skops_io

        skops_io()
    pool = None
    if backend == "ray":
        from forgeml.training.ray_search import RayTrials

        say("running the search's trials as Ray tasks")
        pool = RayTrials(plan, use_cv, address)
    elif backend != "local":
        raise ConfigError(f"backend {backend!r} is not local or ray", fix="use local or ray")
    limit = threadpool_limits(limits=training_threads(plan.table.num_rows))  # OpenMP pools
    try:
        spaces = {c: plan.candidates[c].suggest for c in order}
        warm_starts = {c: list(plan.candidates[c].warm_starts) for c in order}
        starts = _paced_starts(plan, matrices, budget, use_cv, say)
        for name, start in starts.items():
            spaces[name] = paced_space(start)
            warm_starts[name] = paced_warm_starts(warm_starts[name], start)
        counts = plan.info.task == "regression" and count_target(plan.y[plan.split.train])
        if "lightgbm" in spaces and counts:  # try the Poisson objective too
            first = starts.get("lightgbm")
            spaces["lightgbm"], warm_starts["lightgbm"] = with_count_objectives(
                spaces["lightgbm"], warm_starts["lightgbm"], first
            )
            if first is not None:
                starts["lightgbm"] = first | {"objective": COUNT_OBJECTIVES[0]}
        result = run_search(
            evaluate,
            spaces,
            task=plan.info.task,
            trials=budget_trials,
            seconds=budget.search_seconds(),
            higher_is_better=m.HIGHER_IS_BETTER[plan.metric],
            seed=spec.seed,
            on_trial=on_trial,
            warm_starts=warm_starts,
            reserve=lambda best: (
                budget.trial_reserve(
                    best.seconds if best is not None else None,
                    train_rows=train_rows,
                    fitted_rows=fitted_rows,
                    row_seconds=costs.of(best.candidate, best.params) if best is not None else 0.0,
                    own_refit=not use_cv,
                )
                + (finalists_reserve(budget, leaders) if redraw else 0.0)
            ),
            valid_rows=fitted_rows if use_cv else len(plan.split.valid),
            pool=pool,
            starts=starts,
        )
        if redraw:

            def again(name: str, params: dict[str, Any]) -> float | Cut:
                if pool is not None:  # where the search's trials ran
                    return pool.score_again(name, params, budget.end, spec.seed + 1)
                return evaluate_trial(
                    plan,
                    plan.candidates[name],
                    params,
                    matrices,
                    True,
                    lambda _step, _value: None,
                    None,
                    budget.end,
                    folds_seed=spec.seed + 1,
                )

            result = rescore_finalists(
                result,
                again,
                higher_is_better=higher,
                trail=trail_for(fitted_rows),
                seconds_left=lambda: _finalists_time(budget, result, train_rows, fitted_rows),
                say=say,
            )
        say(f"refitting {result.candidate} on the training and validation rows")
        chosen = plan.candidates[result.candidate]
        reuse = best_fit.matching(result.candidate, result.params)
        row_seconds = costs.of(result.candidate, result.params)
        bundle, valid_scores, refitted = _final_bundle(
            plan, chosen, result, matrices, reuse, budget, say, row_seconds
        )
    finally:
        if pool is not None:
            pool.close()
        limit.restore_original_limits()
    return Winner(result, chosen, bundle, valid_scores, refitted, budget)


def finalists_reserve(budget: TimeBudget, leaders: dict[str, Trial]) -> float:
    """Seconds kept after the search to score each candidate's best configuration again
    (see :mod:`forgeml.training.finalists`): what their trials took, with a margin, and at
    most :data:`FINALIST_RESERVE_SHARE` of the budget."""
    if budget.seconds is None:
        return 0.0
    wanted = 1.2 * sum(t.seconds for t in leaders.values()) * budget.slowdown()
    return min(wanted, FINALIST_RESERVE_SHARE * budget.seconds)


def _finalists_time(
    budget: TimeBudget, result: SearchResult, train_rows: int, fitted_rows: int
) -> float | None:
    """Seconds the finalists may take: the time left less what the refit and the steps
    after it keep (None: no time budget)."""
    left = budget.left()
    if left is None:
        return None
    winner = next(
        (t for t in result.trials if (t.candidate, t.params) == (result.candidate, result.params)),
        None,
    )
    kept = budget.reserve(
        winner.seconds if winner is not None else 0.0,
        train_rows=train_rows,
        fitted_rows=fitted_rows,
    )
    return left - kept


def _paced_starts(
    plan: TrainingPlan, matrices: Matrices, budget: TimeBudget, use_cv: bool, say: Progress
) -> dict[str, dict[str, Any]]:
    """LightGBM's first configuration paced to the time budget, when its defaults do not
    fit (see :mod:`forgeml.training.pace`); empty without a time budget, a hold-out or
    LightGBM."""
    seconds = budget.search_seconds()
    cand = plan.candidates.get("lightgbm")
    if seconds is None or use_cv or cand is None:
        return {}
    split = plan.split
    _pipe, x_train, x_valid = matrices.get(cand.strategy, -1, split.train, split.valid)
    pace = probe(
        cand,
        plan.info.task,
        plan.spec.seed,
        plan.class_weight,
        x_train,
        plan.y[split.train],
        x_valid,
        plan.y[split.valid],
    )
    left = budget.search_seconds() or 0.0
    start = paced_start(pace, search_seconds=max(0.0, left - budget.after_reserve()))
    if start is None:
        return {}
    say(
        f"lightgbm: {pace.per_round * 1000:.0f} ms a round here; starting from learning rate "
        f"{start['learning_rate']} (its defaults would take about "
        f"{pace.trial_seconds(0.05):.0f}s of {left:.0f}s)"
    )
    return {"lightgbm": start}


def search_order(names: list[str], train_rows: int) -> list[str]:
    """The candidates in the order their defaults are tried: that of ``train.candidates``,
    except that

    * ``hist_gradient_boosting`` comes after the other boosted trees when LightGBM is
      listed: it grows the same kind of histogram trees as LightGBM, on one thread's
      worth of speed, so under a time budget its defaults are the ones to try last;
    * from ``LARGE_DATA_ROWS`` training rows on LightGBM comes first, so that under a time
      budget the learner that is usually the strongest per second, and that the others
      (logistic regression on many one-hot columns) are much slower than there, gets its
      turn first.

    >>> search_order(["logistic", "hist_gradient_boosting", "lightgbm", "xgboost"], 50_000)
    ['lightgbm', 'logistic', 'xgboost', 'hist_gradient_boosting']
    >>> search_order(["logistic", "hist_gradient_boosting", "lightgbm", "xgboost"], 5_000)
    ['logistic', 'lightgbm', 'xgboost', 'hist_gradient_boosting']
    >>> search_order(["logistic", "hist_gradient_boosting"], 5_000)
    ['logistic', 'hist_gradient_boosting']
    """
    names = list(names)
    if "lightgbm" in names and "hist_gradient_boosting" in names:
        names.remove("hist_gradient_boosting")
        names.append("hist_gradient_boosting")
    if train_rows >= LARGE_DATA_ROWS and "lightgbm" in names:
        names.remove("lightgbm")
        names.insert(0, "lightgbm")
    return names


def estimator_scores(estimator: Any, x: np.ndarray, task: str) -> np.ndarray:
    """Positive-class probability, class probabilities or values, as the bundle gives them."""
    if not hasattr(estimator, "predict"):  # a PyTorch network (the mlp candidate)
        from forgeml.training.mlp import network_scores

        return network_scores(estimator, x)
    if task == "regression":
        return np.asarray(estimator.predict(x), dtype=np.float64)
    proba = np.asarray(estimator.predict_proba(x), dtype=np.float64)
    return proba[:, 1] if task == "binary" else proba


def metric_value(values: dict[str, Any], metric: str) -> float:
    """``values[metric]`` as a float; NaN when it is missing or not a number."""
    value = values.get(metric)
    return float(value) if isinstance(value, int | float) else math.nan


def evaluate_trial(
    plan: TrainingPlan,
    cand: Candidate,
    params: dict[str, Any],
    matrices: Matrices,
    use_cv: bool,
    report: Callable[[int, float], None],
    keep: Keep | None,
    deadline: float | None,
    costs: ScoringCosts | None = None,
    folds_seed: int | None = None,
) -> float | Cut:
    """The trial's score; a :class:`Cut` when the deadline ended it early.

    ``costs`` records how long the (last fold's) model takes to score a row.
    ``folds_seed`` draws the cross-validation folds with another seed than the search's
    (see :mod:`forgeml.training.finalists`).

    With a hold-out, a boosted model cut short is scored on the validation rows like any
    other (and is the model the winner would keep): the cut is ``whole``. With
    cross-validation, a fold model cut short or folds not run make the mean of the folds
    that were run something else than a full cross-validated score: not ``whole``.
    """
    spec, split, info, y = plan.spec, plan.split, plan.info, plan.y
    if use_cv:
        rows = np.concatenate([split.train, split.valid])
        seed = spec.seed if folds_seed is None else folds_seed
        folds = cv_folds(plan.table, rows, spec.split, info, seed=seed)
    else:
        folds = [(split.train, split.valid)]
    drawn = 0 if folds_seed is None else REDRAWN_FOLDS  # their matrices are cached apart
    values: list[float] = []
    stopped = False
    for number, (train, valid) in enumerate(folds):
        if values and passed(deadline):  # stop between folds; the first always runs
            stopped = True
            break
        fold = drawn + number if use_cv else -1
        pipe, x_train, x_valid = matrices.get(cand.strategy, fold, train, valid)
        fit_on, stop_on = (x_train, y[train]), (x_valid, y[valid])
        carved = None
        if use_cv and cand.name in STOPS_EARLY:  # stop on the fold's own training rows
            carved = stopping_rows(y[train], info.is_classification, seed=spec.seed + number)
        if carved is not None:
            fit_on = (x_train[carved[0]], y[train][carved[0]])
            stop_on = (x_train[carved[1]], y[train][carved[1]])
        fitted = cand.fit(
            info.task,
            params,
            spec.seed,
            plan.class_weight,
            *fit_on,
            *stop_on,
            deadline=deadline,
            pipeline=pipe,
        )
        stopped = stopped or fitted.stopped
        if stop_on[0] is x_valid:
            scores, row_seconds = _timed_valid_scores(fitted, x_valid, info.task)
        else:  # predicted afresh: the scores training kept are those of the stopping rows
            began = time.monotonic()
            scores = estimator_scores(fitted.estimator, x_valid, info.task)
            row_seconds = (time.monotonic() - began) / max(1, len(x_valid))
        values.append(score_one(info, scores, y[valid], 0.5, spec, plan.metric))
        report(number, float(np.mean(values)))
    if keep is not None:
        keep(cand.name, params, fitted, scores, values[-1])
    if costs is not None:
        costs.record(cand.name, params, row_seconds)
    mean = float(np.mean(values))
    return Cut(mean, whole=not use_cv) if stopped else mean


REDRAWN_FOLDS = 1000  # the cache key of folds drawn with another seed: 1000 + fold number
STOPS_EARLY = frozenset({"lightgbm", "xgboost", "mlp"})  # early stopping on validation rows
STOPPING_SHARE = 0.2
MIN_STOPPING_ROWS = 50


def stopping_rows(
    y: np.ndarray, classification: bool, *, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of a fold's training rows to fit on, and of those to stop early on (None:
    too few rows, or a class too rare, to set any aside).

    With cross-validation each fold's score is the model's score on its validation rows;
    a boosted model (or network) that also chose its number of rounds on those rows would
    score better there than on new rows, and on small tables, where cross-validation is
    used, by enough to beat models that tune nothing on them. So it stops early on a
    :data:`STOPPING_SHARE` of its training rows (stratified for classification) instead.

    >>> y = np.array([0, 1] * 50)
    >>> kept, held = stopping_rows(y, True, seed=0)
    >>> len(kept), len(held), np.bincount(y[held]).tolist()
    (80, 20, [10, 10])
    >>> stopping_rows(np.array([0] * 95 + [1] * 5), True, seed=0) is None  # 1 of class 1 held
    True
    """
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1] if classification else None
    if len(y) < MIN_STOPPING_ROWS or (counts is not None and counts.min() < 2 / STOPPING_SHARE):
        return None
    kept, held = train_test_split(
        np.arange(len(y)),
        test_size=STOPPING_SHARE,
        random_state=seed,
        stratify=y if classification else None,
    )
    return np.sort(kept), np.sort(held)


def _valid_scores(fitted: Fitted, x_valid: np.ndarray, task: str) -> np.ndarray:
    if fitted.valid_scores is not None:  # taken from training itself
        return fitted.valid_scores
    return estimator_scores(fitted.estimator, x_valid, task)


def _timed_valid_scores(fitted: Fitted, x_valid: np.ndarray, task: str) -> tuple[np.ndarray, float]:
    """The validation rows' scores, and the seconds the model takes to score a row: timed
    on those rows when they are predicted, on a sample of them when training gave them."""
    began = time.monotonic()
    scores = _valid_scores(fitted, x_valid, task)
    if fitted.valid_scores is None:
        return scores, (time.monotonic() - began) / max(1, len(x_valid))
    sample = x_valid[:COST_SAMPLE_ROWS]
    began = time.monotonic()
    estimator_scores(fitted.estimator, sample, task)
    return scores, (time.monotonic() - began) / max(1, len(sample))


class ScoringCosts:
    """Seconds a row that each configuration's model took to score, as measured in its trial."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    @staticmethod
    def _key(name: str, params: dict[str, Any]) -> str:
        return name + json.dumps(params, sort_keys=True, default=str)

    def record(self, name: str, params: dict[str, Any], row_seconds: float) -> None:
        self._seconds[self._key(name, params)] = row_seconds

    def of(self, name: str, params: dict[str, Any]) -> float:
        """The measured seconds a row; 0.0 when not measured (a trial run elsewhere)."""
        return self._seconds.get(self._key(name, params), 0.0)


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
    plan: TrainingPlan,
    cand: Candidate,
    result: SearchResult,
    matrices: Matrices,
    reuse: tuple[Fitted, np.ndarray] | None,
    budget: TimeBudget,
    say: Progress,
    row_seconds: float = 0.0,
) -> tuple[ModelBundle, np.ndarray, dict[str, Any]]:
    """The winner's bundle, its (calibrated) validation scores, and how it was refitted.

    Calibration and the threshold are chosen on the validation rows' scores from the
    winner fitted on the training rows alone (rows it never saw); the stored model is then
    refitted on training + validation rows (see :mod:`forgeml.training.refit`) and keeps
    that calibration and threshold. The test rows are used by neither.
    """
    spec, split, info, y = plan.spec, plan.split, plan.info, plan.y
    pipeline, x_train, x_valid = matrices.get(cand.strategy, -1, split.train, split.valid)
    began = time.monotonic()
    if reuse is not None:  # the search already fitted exactly this model on these rows
        fitted, raw = reuse
        fit_seconds = _trial_seconds(result)
    else:
        fitted = cand.fit(
            info.task,
            result.params,
            spec.seed,
            plan.class_weight,
            x_train,
            y[split.train],
            x_valid,
            y[split.valid],
            deadline=budget.refit_deadline(row_seconds),
            pipeline=pipeline,
        )
        raw = _valid_scores(fitted, x_valid, info.task)
        fit_seconds = time.monotonic() - began
    extras: dict[str, Any] = {
        "task": info.task,
        "classes": info.classes,
        "target": info.column,
        "candidate": cand.name,
        "threshold": None,
        "calibration": None,
    }
    calibrator = None
    if info.is_classification and spec.calibrate != "never":
        calibration = choose_calibration(
            y[split.valid], raw, seed=spec.seed, required=spec.calibrate == "always"
        )
        if calibration is not None:
            raw = apply_calibration(calibration.method, calibration.model, raw)
            calibrator, extras["calibration"] = calibration.model, calibration.method
    if info.task == "binary":
        extras["threshold"] = m.choose_threshold(y[split.valid], raw, spec.costs)
    stored, how = _refit_or_keep(
        plan, cand, fitted, matrices, budget, fit_seconds, say, row_seconds
    )
    if stored is not None:
        pipeline, fitted = stored
    estimator = fitted.estimator
    if cand.flavor == "xgboost" and fitted.best_iteration:
        estimator = estimator.get_booster()[: fitted.best_iteration]  # keep only the trees used
    bundle = ModelBundle(cand.flavor, estimator, pipeline.to_dict(), extras, calibrator)
    return bundle, raw, how


def _refit_or_keep(
    plan: TrainingPlan,
    cand: Candidate,
    fitted: Fitted,
    matrices: Matrices,
    budget: TimeBudget,
    fit_seconds: float,
    say: Progress,
    row_seconds: float = 0.0,
) -> tuple[tuple[FeaturePipeline, Fitted] | None, dict[str, Any]]:
    """The winner refitted on training + validation rows, with its preprocessing, and a
    record of it; None (and why) when the refit's estimate does not fit the time budget.
    ``row_seconds`` is the search's model's cost to score a row: the refitted model's, with
    more rounds, is kept free for the steps after the refit."""
    split, info = plan.split, plan.info
    train_rows = len(split.train)
    rows = np.sort(np.concatenate([split.train, split.valid]))
    estimate = budget.refit_estimate(fit_seconds, train_rows=train_rows, fitted_rows=len(rows))
    deadline = budget.refit_deadline(row_seconds * len(rows) / max(1, train_rows))
    rounds = None
    if deadline is not None and time.monotonic() + estimate > deadline:
        rounds = _affordable_rounds(
            cand, fitted, estimate, deadline - time.monotonic(), train_rows, len(rows)
        )
    if deadline is not None and time.monotonic() + estimate > deadline and rounds is None:
        say(f"kept the model fitted on the training rows: a refit needs about {estimate:.1f}s")
        return None, {
            "rows": train_rows,
            "refitted": False,
            "rounds": fitted.best_iteration,
            "note": f"not refitted: about {estimate:.1f}s needed, the time budget had less left",
        }
    table = plan.rows(rows)
    pipeline = matrices.fit_pipeline(cand.strategy, table)
    refitted = refit(
        cand,
        fitted,
        task=info.task,
        seed=plan.spec.seed,
        class_weight=plan.class_weight,
        x=pipeline.transform(table),
        y=plan.y[rows],
        train_rows=train_rows,
        deadline=deadline,
        rounds=rounds,
        pipeline=pipeline,
    )
    if rounds is not None:
        say(f"refitted with {rounds} rounds, what the time left affords")
    return (pipeline, refitted), {
        "rows": len(rows),
        "refitted": True,
        "rounds": refitted.best_iteration,
        "search_rounds": rounds_of(cand, fitted),
        "note": "stopped at the time budget" if refitted.stopped else None,
    }


def _affordable_rounds(
    cand: Candidate,
    fitted: Fitted,
    estimate: float,
    left: float,
    train_rows: int,
    fitted_rows: int,
) -> int | None:
    """For a boosted winner whose full refit (``estimate`` seconds) does not fit in ``left``
    seconds: the rounds that do, when they are at least as many as the search's model has
    (more rows and as many rounds: no worse a model); None otherwise (keep it).

    The cost of a round is the estimate's share of one of the rounds the search's model
    built (early stopping builds rounds past its best), on ``fitted_rows`` rows.

    >>> from forgeml.training.candidates import candidate
    >>> lgbm = candidate("lightgbm")
    >>> _affordable_rounds(lgbm, Fitted(None, {}, 100), 20.0, 16.0, 6_000, 8_000)
    106
    >>> _affordable_rounds(lgbm, Fitted(None, {}, 100), 20.0, 5.0, 6_000, 8_000) is None
    True
    """
    searched = rounds_of(cand, fitted)
    full = refit_rounds(cand, fitted, train_rows=train_rows, fitted_rows=fitted_rows)
    if searched is None or full is None or estimate <= 0 or left <= 0:
        return None
    built = max(searched, _built_rounds(cand, fitted) or searched)
    affordable = int(left / estimate * full * built / searched)
    return min(full, affordable) if affordable >= searched else None


def _built_rounds(cand: Candidate, fitted: Fitted) -> int | None:
    """How many rounds the search's model built, its best and those after it."""
    try:
        if cand.name == "lightgbm":
            return int(fitted.estimator.booster_.current_iteration())
        if cand.name == "xgboost":
            return int(fitted.estimator.get_booster().num_boosted_rounds())
    except Exception:  # not fitted as expected: count the best rounds only
        return None
    return None


def _trial_seconds(result: SearchResult) -> float:
    """How long the search's trial of the winner took."""
    for trial in reversed(result.trials):
        if trial.candidate == result.candidate and trial.params == result.params:
            return trial.seconds
    return 0.0


def training_threads(rows: int) -> int:
    """Small data trains faster on one thread; thread pools only pay off on larger data."""
    return 1 if rows < SMALL_DATA_ROWS else max(1, os.cpu_count() or 1)
