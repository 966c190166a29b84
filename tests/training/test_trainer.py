"""forgeml train end to end: registered, gated, reproducible, and the artifact predicts the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.demo.credit import generate_credit
from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.project import Project
from forgeml.registry import history, load_bundle, model_version, register_run
from forgeml.training.gate_version import gate
from forgeml.training.predict import Predictor
from forgeml.training.tracking import get_run
from forgeml.training.trainer import train

SPEC = """\
train:
  target: defaulted
  exclude: [customer_id, month]
  slices: [region]
  candidates: {candidates}
  budget: {{trials: {trials}, time: 5m}}
gate:
  metrics: {{roc_auc: {{min: {min_auc}}}}}
  versus_champion: {{roc_auc: {{min_delta: -0.05}}}}
"""


def _project(
    root: Path,
    *,
    candidates: str = "[logistic, lightgbm]",
    trials: int = 3,
    min_auc: float = 0.55,
    rows_per_month: int = 150,
) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / SPEC_FILE).write_text(
        SPEC.format(candidates=candidates, trials=trials, min_auc=min_auc)
    )
    project = Project.init(root)
    ingest(
        generate_credit(rows_per_month=rows_per_month, months=6, seed=3),
        name="credit",
        project=project,
    )
    return project


@pytest.fixture
def credit(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("FORGEML_DB_URL", db_url)
    project = _project(tmp_path / "credit")
    yield project
    project.close()


def test_train_registers_gates_promotes_and_tracks(credit: Project) -> None:
    result = train(project=credit)
    assert result.gate.passed and result.promoted
    assert result.model is not None and result.model.ref == "credit@1"
    assert model_version("credit@champion", project=credit).version == 1
    assert result.test["rows"] == result.context["dataset"]["split"]["test"]
    assert 0.5 < result.test["roc_auc"] <= 1.0
    assert set(result.context["slices"]["region"]) == {"north", "south", "east", "west"}
    assert "income" in result.context["importance"]["permutation"]
    run = get_run(result.run_id, project=credit)
    assert run.status == "finished" and run.dataset == "credit@1"
    assert {"model/bundle", "model/signature.json", "model/metrics.json"} <= set(run.artifacts)
    assert run.metrics["test/roc_auc"] == pytest.approx(result.test["roc_auc"])
    moves = history("credit", project=credit)
    assert moves[0].to_version == 1 and moves[0].gate and moves[0].gate["passed"]

    again = train(project=credit)  # same data and seed: compared with the champion
    assert again.champion is not None and again.champion["version"] == 1
    assert again.champion["roc_auc"] == pytest.approx(result.test["roc_auc"])
    assert again.model is not None and again.model.version == 2

    from_run = register_run(result.run_id, name="credit-copy", project=credit)
    assert from_run.artifact_sha256 == result.model.artifact_sha256


def test_the_stored_artifact_predicts_exactly_what_training_produced(tmp_path: Path) -> None:
    project = _project(
        tmp_path / "p", candidates="[lightgbm, xgboost, logistic, hist_gradient_boosting]", trials=4
    )
    rows = generate_credit(rows_per_month=50, months=2, seed=9)
    for name in ("lightgbm", "xgboost", "logistic", "hist_gradient_boosting"):
        spec = project.spec.train.model_copy(update={"candidates": [name]})
        project.spec = project.spec.model_copy(update={"train": spec})
        result = train(project=project, trials=1)
        assert result.candidate == name and result.bundle is not None
        offline = Predictor(result.bundle).scores(rows)
        stored_sha = get_run(result.run_id, project=project).artifacts["model/bundle"]
        served = Predictor(load_bundle(stored_sha, project.artifacts)).scores(rows)
        assert np.array_equal(offline, served), name
    project.close()


def test_same_data_spec_and_seed_give_the_same_model(tmp_path: Path) -> None:
    results = [
        train(project=_project(tmp_path / f"p{i}", trials=4), register=False) for i in range(2)
    ]
    a, b = results
    assert (a.candidate, a.params) == (b.candidate, b.params)
    assert a.test["roc_auc"] == b.test["roc_auc"] and a.test["log_loss"] == b.test["log_loss"]
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_a_candidate_that_fails_the_gate_is_not_registered(tmp_path: Path) -> None:
    project = _project(tmp_path / "strict", min_auc=0.99)
    result = train(project=project)
    assert not result.gate.passed and result.model is None and not result.promoted
    assert [c.name for c in result.gate.failed] == ["roc_auc"]
    with pytest.raises(NotFound, match="no model named 'credit'"):
        model_version("credit@champion", project=project)
    assert get_run(result.run_id, project=project).tags["gate"] == "failed"
    with pytest.raises(ForgemlError, match="failed its gate"):
        register_run(result.run_id[:8], project=project)
    project.close()


def test_gate_on_a_stored_version_uses_its_held_out_rows(tmp_path: Path) -> None:
    project = _project(tmp_path / "g")
    trained = train(project=project)
    report = gate("credit@1", project=project)
    assert report.result.passed
    assert report.metrics["roc_auc"] == pytest.approx(trained.test["roc_auc"])
    assert report.champion is None  # the champion is this version itself
    project.close()


def test_missing_target_is_a_clear_error(tmp_path: Path) -> None:
    project = _project(tmp_path / "t")
    with pytest.raises(ConfigError, match="did you mean 'defaulted'"):
        train(project=project, target="default")
    project.close()


def test_time_split_is_recorded_and_respected(tmp_path: Path) -> None:
    project = _project(tmp_path / "time", trials=2)
    split = project.spec.train.split.model_copy(update={"time_column": "application_date"})
    project.spec = project.spec.model_copy(
        update={"train": project.spec.train.model_copy(update={"split": split})}
    )
    result = train(project=project)
    assert result.context["dataset"]["split"]["method"] == "time"
    assert result.model is not None and result.model.lineage["split"] == "time"
    project.close()


def test_records_from_a_table_and_mapping_score_the_same(tmp_path: Path) -> None:
    project = _project(tmp_path / "r", trials=2)
    result = train(project=project)
    assert result.bundle is not None
    rows = generate_credit(rows_per_month=20, months=1, seed=1)
    predictor = Predictor(result.bundle)
    as_dict = {name: rows.column(name).to_pylist() for name in rows.column_names}
    assert np.allclose(predictor.scores(rows), predictor.scores(pa.table(as_dict)))
    project.close()
