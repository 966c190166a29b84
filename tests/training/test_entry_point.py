"""train.entry_point: the user's own training function, called by forgeml train and the loop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from forgeml.config import parse_spec
from forgeml.data.ingest import ingest
from forgeml.demo.credit import START, generate_credit
from forgeml.errors import ConfigError, NotFound
from forgeml.loop.cycle import retrain
from forgeml.project import Project
from forgeml.registry import load_model, versions
from forgeml.serve.predlog import PredictionLog
from forgeml.training.entry_point import resolve_entry_point
from forgeml.training.gate_version import gate
from forgeml.training.predict import Predictor
from forgeml.training.trainer import train
from training import entry_points

SPEC = """\
project: byo-loop
train:
  target: defaulted
  exclude: [customer_id, month, application_date, region, employment]
  entry_point: {entry}
gate:
  metrics: {{roc_auc: {{min: 0.6}}}}
  versus_champion: {{log_loss: {{max_delta: 0.05}}}}
monitor: {{window: 30d, metric: log_loss, max_drop: 0.05, min_labels: 100}}
policy:
  evaluate_on: 10d
  data: {{mode: sliding_window, window: 40d, min_rows: 300}}
  rollout: {{mode: direct}}
"""
MONTH_END = (START + timedelta(days=30 * 8)).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("entry") / "project"
    root.mkdir()
    (root / "forgeml.yaml").write_text(SPEC.format(entry="training.entry_points:fit_credit"))
    found = Project.init(root)
    yield found
    found.close()


def test_the_entry_point_must_name_an_importable_function() -> None:
    with pytest.raises(ConfigError, match=r"train\.entry_point 'fit_credit' is not"):
        parse_spec(SPEC.format(entry="fit_credit"))
    with pytest.raises(ConfigError, match="cannot be imported"):
        resolve_entry_point("training.no_such_module:fit")
    with pytest.raises(ConfigError, match="has no fit_missing"):
        resolve_entry_point("training.entry_points:fit_missing")
    with pytest.raises(ConfigError, match="is not a function"):
        resolve_entry_point("training.entry_points:NOT_A_FUNCTION")
    assert resolve_entry_point("training.entry_points:fit_credit") is entry_points.fit_credit


def test_forgeml_train_calls_it_then_gates_and_registers_the_model(project: Project) -> None:
    history = generate_credit(rows_per_month=300, months=6, seed=1)
    version = ingest(history, name="credit", project=project).version
    before = len(entry_points.CALLS)
    result = train(dataset_ref=version.ref, project=project)
    rows, columns = entry_points.CALLS[before]
    assert "defaulted" in columns and "region" not in columns and "customer_id" not in columns
    assert result.gate.passed and result.promoted and result.model is not None
    model = result.model
    assert model.flavor == "sklearn" and model.lineage["source"] == "entry_point"
    assert model.lineage["entry_point"] == "training.entry_points:fit_credit"
    assert rows == model.lineage["rows"]["train"] and rows < history.num_rows
    assert model.card_sha256 is not None
    assert 0.6 < result.test["roc_auc"] <= 1.0
    # forgeml gate rebuilds the same test rows from the run and scores the same model
    report = gate(model.ref, project=project)
    assert report.metrics["roc_auc"] == pytest.approx(result.test["roc_auc"])


def test_a_function_that_returns_nothing_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "nothing"
    root.mkdir()
    (root / "forgeml.yaml").write_text(SPEC.format(entry="training.entry_points:returns_nothing"))
    found = Project.init(root)
    try:
        version = ingest(
            generate_credit(rows_per_month=300, months=2, seed=1), name="credit", project=found
        ).version
        with pytest.raises(ConfigError, match="returned None"):
            train(dataset_ref=version.ref, project=found)
    finally:
        found.close()


def test_a_loop_cycle_retrains_through_the_entry_point(project: Project) -> None:
    if not _has_model(project, "credit"):  # run alone or on another worker: the first model
        version = ingest(
            generate_credit(rows_per_month=300, months=6, seed=1), name="credit", project=project
        ).version
        assert train(dataset_ref=version.ref, project=project).model is not None
    _log_year(project)
    before = len(entry_points.CALLS)
    cycle = retrain("credit", project=project, now=MONTH_END, trigger="drift", key="k1")
    assert cycle.status == "promoted", cycle.details
    assert len(entry_points.CALLS) > before  # the challenger came from the user's function
    challenger = versions("credit", project=project)[cycle.details["challenger"] - 1]
    assert challenger.lineage["source"] == "entry_point"
    assert challenger.signature["dataset"] == cycle.details["dataset"]
    assert "champion" in challenger.aliases


def _log_year(project: Project) -> None:
    """Eight months served by the champion, labelled 30 days after each prediction."""
    rows: pa.Table = generate_credit(rows_per_month=300, months=8, seed=2)
    version, bundle = load_model("credit@champion", project=project)
    scores = Predictor(bundle).scores(rows)
    inputs = [c["name"] for c in version.signature["inputs"]]
    dates = rows.column("application_date").to_pylist()
    truth = rows.column("defaulted").to_pylist()
    with PredictionLog(project, "credit", version.signature["inputs"]) as log:
        for i in range(rows.num_rows):
            at = dates[i].replace(tzinfo=UTC).timestamp()
            log.log_predictions(
                ids=[f"r{i}"],
                version=version.version,
                arm="champion",
                inputs={n: [rows.column(n)[i].as_py()] for n in inputs},
                scores=scores[i : i + 1],
                labels=[bool(scores[i] >= 0.5)],
                latency_ms=1.0,
                time=at,
            )
            log.log_feedback([f"r{i}"], [truth[i]], time=at + 30 * 86400)


def _has_model(project: Project, name: str) -> bool:
    try:
        return bool(versions(name, project=project))
    except NotFound:
        return False
