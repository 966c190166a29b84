"""Served tree models use one native thread per worker, with the same scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from forgeml.project import Project
from forgeml.registry import ModelBundle, load_model, promote, register_model
from forgeml.serve.scoring import Scorer
from forgeml.training.predict import Predictor
from serve.serving import credit_table, fit_bundle, record


def _hgb(project: Project, task: str) -> str:
    """Register a histogram gradient boosting model for ``task``; returns its name."""
    table = credit_table(rows=400)
    bundle, signature = fit_bundle(table, flavor="sklearn", task=task)
    x = Predictor(bundle).pipeline.transform(table)
    target = table.column(signature["target"]).to_pylist()
    if task == "regression":
        model = HistGradientBoostingRegressor(max_iter=30).fit(x, np.asarray(target))
    else:
        y = np.array([signature["classes"].index(v) for v in target])
        model = HistGradientBoostingClassifier(max_iter=30).fit(x, y)
    name = f"hgb-{task}"
    register_model(
        name,
        replace(bundle, estimator=model),
        signature=signature,
        metrics={},
        lineage={},
        project=project,
    )
    promote(f"{name}@1", reason="served in a test", project=project)
    return name


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_histogram_boosting_is_scored_on_one_thread_with_the_same_scores(
    sqlite_project: Project, task: str
) -> None:
    name = _hgb(sqlite_project, task)
    version, bundle = load_model(f"{name}@1", project=sqlite_project)
    scorer = Scorer(version, bundle)
    assert scorer.predictor._trees is not None  # the verified one-thread path is in use
    table = credit_table(rows=400)
    rows = [record(table, i) for i in range(12)]
    served = [scorer.score(scorer.read(r)) for r in rows]
    got = np.concatenate([s.probabilities if task == "multiclass" else s.scores for s in served])
    expected = Predictor(bundle).scores({k: [r[k] for r in rows] for k in rows[0]})
    np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=1e-9)


def test_a_server_worker_runs_every_native_pool_on_one_thread(sqlite_project: Project) -> None:
    name = _hgb(sqlite_project, "binary")
    code = (
        "import json; from threadpoolctl import threadpool_info; "
        "from forgeml.serve.server import ServeSettings, build_app; "
        f"build_app(ServeSettings(project={str(sqlite_project.root)!r}, model={name!r}, "
        "log_predictions=False)); "
        "print(json.dumps([[p['internal_api'], p['num_threads']] for p in threadpool_info()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "4"},  # what a user's shell may set
    )
    assert done.returncode == 0, done.stderr
    pools = json.loads(done.stdout.strip().splitlines()[-1])
    assert any(api == "openmp" for api, _ in pools)
    assert all(threads == 1 for _, threads in pools), pools


def _forest_pipeline(project: Project) -> str:
    """Register scaling + a random forest, both asking for every core; returns its name."""
    table = credit_table(rows=400)
    bundle, signature = fit_bundle(table, flavor="sklearn", task="binary")
    x = Predictor(bundle).pipeline.transform(table)
    y = np.array([signature["classes"].index(v) for v in table.column("default").to_pylist()])
    scale = ColumnTransformer([("scale", StandardScaler(), slice(0, 2))], remainder="passthrough")
    forest = RandomForestClassifier(n_estimators=40, random_state=0)
    model = Pipeline([("features", scale), ("forest", forest)]).fit(x, y)
    model.set_params(forest__n_jobs=-1)  # as a user's script leaves it
    register_model(
        "forest",
        replace(bundle, estimator=model),
        signature=signature,
        metrics={},
        lineage={},
        project=project,
    )
    return "forest"


def _served_scores(scorer: Scorer, rows: list[dict]) -> np.ndarray:
    return np.concatenate([scorer.score(scorer.read(r)).scores for r in rows])


def test_a_served_forest_pipeline_runs_every_step_on_one_job(sqlite_project: Project) -> None:
    name = _forest_pipeline(sqlite_project)
    table = credit_table(rows=400)
    rows = [record(table, i) for i in range(20)]
    _, stored = load_model(f"{name}@1", project=sqlite_project)
    assert stored.estimator["forest"].n_jobs == -1  # as trained and stored
    expected = Predictor(stored).scores({k: [r[k] for r in rows] for k in rows[0]})
    version, bundle = load_model(f"{name}@1", project=sqlite_project)
    # a process per core for each request's columns (not stored: it would slow this test)
    bundle.estimator.set_params(features__n_jobs=-1)
    scorer = Scorer(version, bundle)
    model = scorer.predictor.bundle.estimator
    assert model["features"].n_jobs == 1
    assert model["forest"].n_jobs == 1
    np.testing.assert_allclose(_served_scores(scorer, rows), expected, rtol=0, atol=1e-12)


def test_a_served_calibrated_forest_runs_every_fitted_copy_on_one_job(
    sqlite_project: Project,
) -> None:
    name = _forest_pipeline(sqlite_project)
    version, stored = load_model(f"{name}@1", project=sqlite_project)
    table = credit_table(rows=400)
    x = Predictor(stored).pipeline.transform(table)
    y = np.array([version.signature["classes"].index(v) for v in table["default"].to_pylist()])
    forest = RandomForestClassifier(n_estimators=20, random_state=0)
    calibrated = CalibratedClassifierCV(forest, cv=3).fit(x, y)
    calibrated.set_params(n_jobs=-1, estimator__n_jobs=-1)  # every core, fitted copies too
    for fitted in calibrated.calibrated_classifiers_:
        fitted.estimator.n_jobs = -1
    rows = [record(table, i) for i in range(20)]
    expected = Predictor(replace(stored, estimator=calibrated)).scores(
        {k: [r[k] for r in rows] for k in rows[0]}
    )
    served: ModelBundle = replace(stored, estimator=calibrated)
    scorer = Scorer(version, served)
    copies = [c.estimator for c in calibrated.calibrated_classifiers_]
    assert len(copies) == 3
    assert [calibrated.n_jobs, calibrated.estimator.n_jobs] == [1, 1]
    assert [c.n_jobs for c in copies] == [1, 1, 1]
    np.testing.assert_allclose(_served_scores(scorer, rows), expected, rtol=0, atol=1e-12)
