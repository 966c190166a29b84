"""The extra_trees candidate: its settings, its steps under a deadline, when the defaults
search it, and a stored model that scores as it was trained, served included."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import optuna
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE, TrainSpec
from forgeml.data import ingest
from forgeml.project import Project
from forgeml.registry import load_bundle, model_version
from forgeml.serve.scoring import Scorer
from forgeml.training.candidates import FOREST_TREES, candidate
from forgeml.training.deadline import fit_forest_until
from forgeml.training.predict import Predictor
from forgeml.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread_each")


def _table(n: int, seed: int = 5) -> pa.Table:
    """A binary target from a number with missing values and a category with a missing one."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    signal = a + np.select([plan == "pro", plan == "plus"], [1.0, 0.4], 0.0) + rng.normal(size=n)
    a_values: list[float | None] = a.tolist()
    for i in range(0, n, 9):
        a_values[i] = None
    plan_values: list[str | None] = plan.tolist()
    plan_values[3] = None
    return pa.table(
        {
            "a": pa.array(a_values, pa.float64()),
            "b": b,
            "plan": pa.array(plan_values, pa.string()),
            "y": signal > 0.5,
        }
    )


def _project(root: Path, train_spec: str, table: pa.Table) -> Project:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(f"train:\n{train_spec}")
    project = Project.init(root)
    ingest(table, name="data", project=project)
    return project


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_defaults_follow_the_task(task: str) -> None:
    model = candidate("extra_trees").build(task, {}, 7, "balanced")
    params = model.get_params()
    regression = task == "regression"
    assert type(model).__name__ == ("ExtraTreesRegressor" if regression else "ExtraTreesClassifier")
    assert params["n_estimators"] == FOREST_TREES == 300
    assert params["max_features"] == (1.0 if regression else "sqrt")
    assert params["min_samples_leaf"] == (5 if regression else 1)
    assert params["random_state"] == 7 and params["n_jobs"] == 1  # the caller allows one thread
    if not regression:
        assert params["class_weight"] == "balanced" and params["criterion"] == "gini"


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_search_space(task: str) -> None:
    cand = candidate("extra_trees")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = cand.suggest(trial, task)
        assert 0.1 <= params["max_features"] <= 1.0
        assert 1 <= params["min_samples_leaf"] <= 50
        assert ("criterion" in params) == (task != "regression")
        assert params.get("criterion", "gini") in ("gini", "entropy")
        model = cand.build(task, params, 0, None)
        assert model.get_params()["min_samples_leaf"] == params["min_samples_leaf"]
        study.tell(trial, 0.5)


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_grown_in_steps_it_is_the_single_fit_and_a_deadline_keeps_the_trees_grown(
    class_weight: str | None,
) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 4))
    x[::7, 0] = np.nan  # extra trees split on missing values (scikit-learn >= 1.6)
    y = (np.nan_to_num(x[:, 0]) + x[:, 1] + rng.normal(size=600) > 1.0).astype(int)
    cand = candidate("extra_trees")
    params = {"n_estimators": 60}
    single = cand.build("binary", params, 0, class_weight).fit(x, y)
    for first in (7, 59, 60):
        stepped = cand.build("binary", params, 0, class_weight)
        assert not fit_forest_until(stepped, x, y, time.monotonic() + 3600, first_step=first)
        assert stepped.get_params() == single.get_params()
        np.testing.assert_array_equal(stepped.predict_proba(x), single.predict_proba(x))

    fitted = cand.fit("binary", params, 0, class_weight, x, y, deadline=time.monotonic())
    assert fitted.stopped
    model = fitted.estimator
    assert len(model.estimators_) == model.n_estimators == 25 and not model.warm_start
    assert model.predict_proba(x).shape == (600, 2)
    assert not cand.fit("binary", params, 0, class_weight, x, y, deadline=None).stopped


def test_it_is_searched_when_listed_and_not_by_default(tmp_path: Path) -> None:
    assert "extra_trees" not in TrainSpec().candidates  # large models: opt in
    table = _table(400)
    spec = "  target: y\n  candidates: [logistic, extra_trees]\n  budget: {trials: 2}\n"
    listed = _project(tmp_path / "listed", spec, table)
    result = train(project=listed, register=False)
    listed.close()
    assert [t.candidate for t in result.trials] == ["logistic", "extra_trees"]
    assert all(t.state == "complete" for t in result.trials)


def test_a_registered_model_loads_and_scores_as_trained_in_serving_too(tmp_path: Path) -> None:
    table = _table(700)
    spec = "  target: y\n  candidates: [extra_trees]\n  budget: {trials: 2}\n"
    project = _project(tmp_path / "p", spec, table)
    result = train(project=project)
    assert result.candidate == "extra_trees" and result.model is not None
    assert [t.state for t in result.trials] == ["complete", "complete"]
    assert result.bundle is not None and result.bundle.flavor == "sklearn"
    assert type(result.bundle.estimator).__name__ == "ExtraTreesClassifier"

    version = model_version("data@champion", project=project)
    stored = load_bundle(version.artifact_sha256, project.artifacts)
    rows = table.slice(0, 60)
    assert rows.column("a").null_count and rows.column("plan").null_count
    expected = Predictor(result.bundle).scores(rows)
    np.testing.assert_array_equal(Predictor(stored).scores(rows), expected)

    scorer = Scorer(version, stored)
    served = scorer.score(scorer.read(rows.drop_columns(["y"]).to_pylist()))
    np.testing.assert_allclose(served.scores, expected, rtol=0, atol=1e-12)
    assert served.labels is not None and len(served.labels) == 60
    project.close()
