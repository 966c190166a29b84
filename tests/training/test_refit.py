"""The stored model is refitted on training + validation rows; the test rows stay out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.features import FeaturePipeline
from forgeml.project import Project
from forgeml.registry import load_bundle
from forgeml.training.candidates import candidate
from forgeml.training.plan import plan_training
from forgeml.training.predict import Predictor
from forgeml.training.refit import refit
from forgeml.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread_each")

SPEC = (
    "train:\n  target: y\n  exclude: [rid]\n  candidates: [{candidates}]\n  budget: {{trials: 1}}\n"
)


def _table(n: int, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + rng.normal(size=n) > 0.2
    return pa.table({"rid": np.arange(n), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})


def _project(root: Path, table: pa.Table, candidates: str = "lightgbm") -> Project:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(SPEC.format(candidates=candidates))
    project = Project.init(root)
    ingest(table, name="data", project=project)
    return project


def _split(project: Project) -> Any:
    return plan_training(
        dataset_ref=None, project=project, target=None, exclude=(), say=lambda _t: None
    ).split


def test_the_stored_model_is_fitted_on_training_and_validation_rows_never_test_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted_on: list[set[int]] = []
    original = FeaturePipeline.fit.__func__  # type: ignore[attr-defined]

    def recording(cls: type, rows: Any, *args: Any, **kwargs: Any) -> Any:
        fitted_on.append(set(rows.column("rid").to_pylist()))
        return original(cls, rows, *args, **kwargs)

    monkeypatch.setattr(FeaturePipeline, "fit", classmethod(recording))
    project = _project(tmp_path / "p", _table(3000))
    result = train(project=project)
    split = _split(project)
    train_rows, valid_rows, test_rows = (
        set(s.tolist()) for s in (split.train, split.valid, split.test)
    )
    assert result.model is not None
    assert fitted_on and all(not (rows & test_rows) for rows in fitted_on)
    assert fitted_on[-1] == train_rows | valid_rows  # the stored model's preprocessing
    refitted = result.context["model"]["refit"]
    assert refitted["refitted"] is True and refitted["rows"] == len(train_rows | valid_rows)
    assert result.model.lineage["rows"]["fitted"] == len(train_rows) + len(valid_rows)
    # boosting rounds scaled from the search's early stopping to the larger row count
    expected = round(refitted["search_rounds"] * refitted["rows"] / len(train_rows))
    assert refitted["rounds"] == expected
    stored = load_bundle(result.model.artifact_sha256, project.artifacts)
    assert stored.estimator.current_iteration() == expected  # a LightGBM Booster
    project.close()


def test_changing_only_the_test_rows_changes_nothing_the_model_learned(tmp_path: Path) -> None:
    clean = _table(3000)
    rng = np.random.default_rng(9)
    first = _project(tmp_path / "clean", clean, candidates="lightgbm, logistic")
    test = _split(first).test
    columns = {name: clean.column(name).to_numpy().copy() for name in ("a", "b", "c")}
    for values in columns.values():  # the test rows' features become noise; targets stay
        values[test] = rng.normal(scale=5.0, size=len(test))
    poisoned = clean.set_column(1, "a", pa.array(columns["a"]))
    poisoned = poisoned.set_column(2, "b", pa.array(columns["b"]))
    poisoned = poisoned.set_column(3, "c", pa.array(columns["c"]))
    second = _project(tmp_path / "poisoned", poisoned, candidates="lightgbm, logistic")
    assert np.array_equal(_split(second).test, test)  # the same rows are held out

    results = [train(project=p, trials=3) for p in (first, second)]
    probe = clean.slice(0, 500)
    scores = [Predictor(r.bundle).scores(probe) for r in results if r.bundle is not None]
    assert len(scores) == 2
    np.testing.assert_array_equal(scores[0], scores[1])
    assert results[0].valid == results[1].valid  # calibration and threshold alike
    assert results[0].bundle is not None and results[1].bundle is not None
    assert results[0].bundle.extras["threshold"] == results[1].bundle.extras["threshold"]
    assert results[0].test != results[1].test  # the test rows did change
    for project in (first, second):
        project.close()


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "hist_gradient_boosting"])
def test_a_refit_has_the_search_rounds_scaled_to_its_rows(name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 4))
    y = (x[:, 0] + rng.normal(size=2000) > 0).astype(int)
    cand = candidate(name)
    searched = cand.fit("binary", {}, 0, None, x[:1200], y[:1200], x[1200:1600], y[1200:1600])
    rounds = (
        searched.estimator.n_iter_ if name == "hist_gradient_boosting" else searched.best_iteration
    )
    assert rounds is not None
    again = refit(
        cand,
        searched,
        task="binary",
        seed=0,
        class_weight=None,
        x=x[:1600],
        y=y[:1600],
        train_rows=1200,
        deadline=None,
    )
    assert again.best_iteration == round(rounds * 1600 / 1200)
    assert not again.stopped


def test_a_refit_past_its_deadline_keeps_the_rounds_it_built() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 4))
    y = (x[:, 0] + rng.normal(size=3000) > 0).astype(int)
    cand = candidate("lightgbm")
    searched = cand.fit("binary", {}, 0, None, x[:2000], y[:2000], x[2000:], y[2000:])
    again = refit(
        cand,
        searched,
        task="binary",
        seed=0,
        class_weight=None,
        x=x,
        y=y,
        train_rows=2000,
        deadline=0.0,  # long passed
    )
    assert again.stopped and again.best_iteration == 1
    assert again.estimator.predict_proba(x[:5]).shape == (5, 2)
