"""forgeml train refuses bad specs before searching, and records what it decided."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.registry import load_bundle
from forgeml.training.candidates import candidate
from forgeml.training.evaluation import score
from forgeml.training.plan import check_storable, plan_training
from forgeml.training.predict import Predictor
from forgeml.training.tracking import get_run, list_runs, metric_history
from forgeml.training.trainer import train

RNG = np.random.default_rng(11)


def _quiet(_text: str) -> None:
    pass


def _project(root: Path, table: pa.Table, train_spec: str) -> Project:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(f"train:\n{train_spec}")
    project = Project.init(root)
    ingest(table, name="data", project=project)
    return project


def _binary(n: int = 1500) -> pa.Table:
    x = RNG.normal(size=(n, 3))
    y = x[:, 0] + 0.5 * x[:, 1] + RNG.normal(size=n) > 0.3
    return pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


def _multiclass(n: int = 3000) -> pa.Table:
    x = RNG.normal(size=(n, 3))
    signal = x[:, 0] + 0.7 * x[:, 1] + 0.5 * RNG.normal(size=n)
    y = np.array(["low", "mid", "high"])[np.digitize(signal, [-0.5, 0.6])]
    return pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


USER_MODULE = '''
from sklearn.linear_model import LogisticRegression


class Shrunk(LogisticRegression):
    """A user's own estimator class: fine to train, not on the skops allow-list."""
'''


def test_a_user_estimator_that_cannot_be_stored_is_refused_before_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mymodels.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mymodels", raising=False)
    spec = '  target: y\n  candidates: ["mymodels:Shrunk"]\n  budget: {trials: 2}\n'
    project = _project(tmp_path / "p", _binary(), spec)
    with pytest.raises(ConfigError) as refused:
        train(project=project)
    assert "mymodels.Shrunk" in refused.value.message
    assert "sklearn.ensemble:RandomForestClassifier" in (refused.value.fix or "")
    assert list_runs(project=project) == []  # nothing was searched or recorded
    project.close()


def test_scikit_learn_estimators_by_import_path_pass_the_storage_check() -> None:
    forest = candidate("sklearn.ensemble:RandomForestClassifier")
    check_storable(forest, "binary", 0, "balanced")  # no error
    with pytest.raises(ConfigError, match="holds types"):
        check_storable(candidate("lightgbm.sklearn:LGBMClassifier"), "binary", 0, None)


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("expected_cost", "needs the costs of errors"),
        ("rmse", "'rmse' is not computed for a binary target"),
    ],
)
def test_a_metric_the_run_cannot_compute_is_refused_before_the_search(
    tmp_path: Path, metric: str, message: str
) -> None:
    project = _project(tmp_path / "p", _binary(), "  target: y\n")
    project.spec = project.spec.model_copy(  # as Python callers may set it, unvalidated
        update={"train": project.spec.train.model_copy(update={"metric": metric})}
    )
    with pytest.raises(ConfigError, match=message):
        train(project=project)
    assert list_runs(project=project) == []
    project.close()


def test_the_run_records_the_best_search_score_by_the_metric_direction(tmp_path: Path) -> None:
    spec = "  target: y\n  metric: log_loss\n  candidates: [logistic, lightgbm]\n"
    project = _project(tmp_path / "p", _binary(), spec + "  budget: {trials: 5}\n")
    result = train(project=project, register=False)
    scores = [t.score for t in result.trials if t.score is not None]
    run = get_run(result.run_id, project=project)
    assert run.tags["metric"] == "log_loss"
    assert run.metrics["search/best"] == pytest.approx(min(scores))  # lower is better
    best = [value for _step, value in metric_history(run.id, "search/best", project=project)]
    assert best == sorted(best, reverse=True)  # it only ever improves
    project.close()


def test_multiclass_models_are_calibrated_and_the_stored_bundle_scores_the_same(
    tmp_path: Path,
) -> None:
    spec = "  target: y\n  candidates: [lightgbm]\n  budget: {trials: 1}\n  calibrate: always\n"
    project = _project(tmp_path / "p", _multiclass(), spec)
    result = train(project=project)
    assert result.bundle is not None and result.model is not None
    method = result.bundle.extras["calibration"]
    assert method in ("isotonic_ovr", "sigmoid_ovr")
    assert result.context["model"]["calibration"] == method
    assert get_run(result.run_id, project=project).params["calibration"] == method

    plan = plan_training(dataset_ref=None, project=project, target=None, exclude=(), say=_quiet)
    test_rows = plan.rows(plan.split.test)
    stored = Predictor(load_bundle(result.model.artifact_sha256, project.artifacts))
    scores = stored.scores(test_rows)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(scores, Predictor(result.bundle).scores(test_rows))
    again = score(plan.info, scores, plan.y[plan.split.test], None, plan.spec)
    assert again["log_loss"] == pytest.approx(result.test["log_loss"], abs=1e-9)
    assert again["accuracy"] == result.test["accuracy"]
    project.close()


def test_test_metrics_are_those_of_the_stored_bundle_and_importance_says_how(
    tmp_path: Path,
) -> None:
    spec = "  target: y\n  candidates: [lightgbm]\n  budget: {trials: 1}\n"
    project = _project(tmp_path / "p", _binary(3000), spec)
    result = train(project=project)
    assert result.model is not None
    plan = plan_training(dataset_ref=None, project=project, target=None, exclude=(), say=_quiet)
    stored = Predictor(load_bundle(result.model.artifact_sha256, project.artifacts))
    scores = stored.scores(plan.rows(plan.split.test))
    again = score(plan.info, scores, plan.y[plan.split.test], stored.threshold, plan.spec)
    for name in ("roc_auc", "log_loss", "brier", "accuracy", "f1"):
        assert again[name] == pytest.approx(result.test[name], abs=1e-9), name
    method = result.context["importance"]["permutation_method"]
    assert method == {"rows": len(plan.split.test), "repeats": 2, "note": None}
    assert set(result.context["importance"]["permutation"]) == {"a", "b", "c"}
    project.close()
