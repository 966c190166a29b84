"""A time budget holds inside trials: boosted trees stop adding trees, CV stops between folds."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pyarrow as pa
import pytest
import xgboost
from sklearn.metrics import roc_auc_score

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.demo.credit import generate_credit
from forgeml.project import Project
from forgeml.training.candidates import Fitted, candidate
from forgeml.training.deadline import fit_hgb_until
from forgeml.training.fitting import LARGE_DATA_ROWS, search_order
from forgeml.training.lgbm import EARLY_STOPPING_ROUNDS, fit_with_validation_scores
from forgeml.training.search import Cut, Report, run_search
from forgeml.training.trainer import train

BOOSTED = ["lightgbm", "xgboost", "hist_gradient_boosting"]


pytestmark = pytest.mark.usefixtures("one_thread_each")


def _binary(n: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A learnable but noisy target: boosted trees find it, then overfit it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    signal = x[:, 0] + 0.5 * x[:, 1] ** 2 + 1.5 * rng.normal(size=n)
    return x, (signal > 0.5).astype(int)


def _trees(fitted: Fitted) -> int:
    model = fitted.estimator
    if isinstance(model, lightgbm.LGBMModel):
        return int(model.booster_.current_iteration())
    if isinstance(model, xgboost.XGBModel):
        return int(model.get_booster().num_boosted_rounds())
    return int(model.n_iter_)


@pytest.mark.parametrize("name", BOOSTED)
def test_a_passed_deadline_leaves_a_smaller_model_that_works(name: str) -> None:
    x, y = _binary(4000)
    cand, split = candidate(name), (x[:3000], y[:3000], x[3000:], y[3000:])
    full = cand.fit("binary", {}, 0, None, *split)
    cut = cand.fit("binary", {}, 0, None, *split, deadline=time.monotonic())
    assert cut.stopped and not full.stopped
    assert 1 <= _trees(cut) < _trees(full)
    scores = cut.estimator.predict_proba(x[3000:])[:, 1]
    assert roc_auc_score(y[3000:], scores) > 0.65


def test_lightgbm_stopped_by_the_deadline_ends_at_the_best_iteration_so_far() -> None:
    x, y = _binary(20_000)
    model = lightgbm.LGBMClassifier(
        n_estimators=500,
        learning_rate=0.2,
        num_leaves=63,
        min_child_samples=5,
        n_jobs=1,
        deterministic=True,
        verbose=-1,
    )  # overfits after about a dozen trees; early stopping alone would end ~50 later
    fit = fit_with_validation_scores(
        model, x[:15_000], y[:15_000], x[15_000:], y[15_000:], deadline=time.monotonic() + 0.05
    )
    history = model.evals_result_["valid_0"]["binary_logloss"]
    assert fit.stopped and fit.best_iteration is not None
    assert len(history) < fit.best_iteration + EARLY_STOPPING_ROUNDS  # before early stopping
    assert fit.best_iteration == model.best_iteration_ == int(np.argmin(history)) + 1
    assert model.booster_.current_iteration() == fit.best_iteration  # the trees after it dropped
    assert fit.scores is not None
    np.testing.assert_allclose(
        fit.scores, model.predict_proba(x[15_000:])[:, 1], rtol=0, atol=1e-10
    )


def test_xgboost_stopped_by_the_deadline_keeps_its_best_iteration_right() -> None:
    x, y = _binary(20_000)
    fitted = candidate("xgboost").fit(
        "binary",
        {"learning_rate": 0.2, "max_depth": 8},
        0,
        None,
        x[:15_000],
        y[:15_000],
        x[15_000:],
        y[15_000:],
        deadline=time.monotonic() + 0.05,
    )
    model = fitted.estimator
    history = model.evals_result()["validation_0"]["logloss"]
    assert fitted.stopped and model.callbacks is None
    assert model.get_booster().num_boosted_rounds() == len(history)
    assert fitted.best_iteration == int(np.argmin(history)) + 1  # every round was judged
    kept = model.get_booster()[: fitted.best_iteration]
    np.testing.assert_allclose(
        model.predict_proba(x[15_000:])[:, 1],
        kept.predict(xgboost.DMatrix(x[15_000:])),
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_hist_gradient_boosting_in_steps_is_the_single_fit_without_time_pressure(
    task: str,
) -> None:
    x, y = _binary(5000)
    if task == "regression":
        y = x[:, 0] + 0.5 * x[:, 1] ** 2 + np.random.default_rng(12).normal(size=len(y))
    build = candidate("hist_gradient_boosting").build
    single = build(task, {}, 0, None).fit(x, y)
    assert 25 < single.n_iter_ < single.max_iter  # its early stopping ended it
    for first in (7, single.n_iter_ - 1, single.n_iter_):  # the last: it stops on the step
        stepped = build(task, {}, 0, None)
        assert not fit_hgb_until(stepped, x, y, time.monotonic() + 3600, first_step=first)
        assert stepped.n_iter_ == single.n_iter_, first
        assert stepped.get_params() == single.get_params()
        predict = "predict" if task == "regression" else "predict_proba"
        np.testing.assert_array_equal(getattr(stepped, predict)(x), getattr(single, predict)(x))


def test_a_trial_scored_on_fewer_folds_counts_only_when_nothing_else_has_a_score() -> None:
    outcomes: Iterator[float | Cut] = iter(
        [
            Cut(0.7, whole=False),
            0.6,
            Cut(0.9, whole=False),
            Cut(0.8, whole=True),
            Cut(math.nan, whole=False),
        ]
    )
    seen: list[float | None] = []

    def evaluate(
        name: str, params: dict[str, Any], report: Report, deadline: float | None
    ) -> float | Cut:
        seen.append(deadline)
        return next(outcomes)

    result = run_search(
        evaluate,
        {"a": lambda t, task: {"x": t.suggest_float("x", 0, 1)}},
        task="binary",
        trials=5,
        seconds=3600,
        higher_is_better=True,
        seed=0,
    )
    states = [(t.state, t.score, t.stopped) for t in result.trials]
    assert states == [
        ("complete", 0.7, True),  # the first score: better than none
        ("complete", 0.6, False),
        ("stopped", None, True),  # a partial score is not compared with whole ones
        ("complete", 0.8, True),  # scored like any other, with fewer trees
        ("stopped", None, True),
    ]
    assert result.score == 0.8
    assert len(set(seen)) == 1 and seen[0] is not None  # one deadline for the whole search


def test_lightgbm_comes_first_on_a_large_table() -> None:
    default = ["logistic", "hist_gradient_boosting", "lightgbm", "xgboost"]
    # HistGradientBoosting, LightGBM's slower twin, goes after the other boosted trees
    assert search_order(default, LARGE_DATA_ROWS - 1) == [
        "logistic",
        "lightgbm",
        "xgboost",
        "hist_gradient_boosting",
    ]
    assert search_order(default, LARGE_DATA_ROWS) == [
        "lightgbm",
        "logistic",
        "xgboost",
        "hist_gradient_boosting",
    ]
    assert search_order(["hist_gradient_boosting", "logistic"], 10**6) == [
        "hist_gradient_boosting",
        "logistic",
    ]
    assert search_order(["xgboost", "lightgbm"], 10**6) == ["lightgbm", "xgboost"]
    assert search_order(["xgboost", "logistic"], 10**6) == ["xgboost", "logistic"]


def _project(root: Path, spec: str, table: pa.Table) -> Project:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(spec)
    project = Project.init(root)
    ingest(table, name="data", project=project)
    return project


def test_a_time_budget_holds_when_one_trial_would_take_much_longer(tmp_path: Path) -> None:
    # Uncut, the first trial (LightGBM's defaults) grows all 2,000 trees: about 5 s on one
    # core of an idle machine. A table of fewer than 20,000 rows trains on one thread.
    n, features = 19_000, 8
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, features))
    mix = rng.normal(size=(features, features)) / math.sqrt(features)
    y = np.sin(x @ mix).sum(axis=1) + 0.1 * rng.normal(size=n)
    table = pa.table({**{f"f{i}": x[:, i] for i in range(features)}, "y": y})
    spec = (
        "train:\n  target: y\n  candidates: [lightgbm, xgboost]\n  budget: {time: 3s}\n"
        "  split: {test_size: 0.1, validation_size: 0.1}\n"
    )
    project = _project(tmp_path / "big", spec, table)
    said: list[str] = []
    started = time.monotonic()
    result = train(project=project, register=False, progress=said.append)
    elapsed = time.monotonic() - started
    project.close()
    # LightGBM's defaults would not converge in the budget: the search starts it from a
    # faster-learning configuration (see test_pace.py), and the deadline cuts what runs over.
    first = result.trials[0]
    assert (first.candidate, first.state) == ("lightgbm", "complete")
    assert first.params["learning_rate"] > 0.05
    assert any("starting from learning rate" in line for line in said)
    # The budget covers the whole command: the search gets what the refit and the
    # evaluation after it leave.
    for trial in result.trials:
        assert trial.seconds < 3 + 2.5  # the budget, and generous slack for a loaded machine
    assert elapsed < 3 + 10
    assert result.test["rmse"] < 0.8 * float(np.std(y))  # a useful model, whichever won


def test_cross_validation_stops_between_folds(tmp_path: Path) -> None:
    spec = (
        "train:\n  target: defaulted\n  exclude: [customer_id, month]\n"
        "  candidates: [logistic, lightgbm]\n  budget: {trials: 10, time: 0.001s}\n"
    )
    project = _project(tmp_path / "small", spec, generate_credit(rows_per_month=150, months=6))
    said: list[str] = []
    result = train(project=project, register=False, progress=said.append)
    project.close()
    assert result.context["dataset"]["split"]["train"] < 2000  # small: cross-validated
    assert len(result.trials) == 1  # the search ends at the deadline
    trial = result.trials[0]
    assert (trial.candidate, trial.state, trial.stopped) == ("logistic", "complete", True)
    assert any("stopped at the time budget" in line for line in said)
    assert result.candidate == "logistic" and 0.5 < result.test["roc_auc"] <= 1
