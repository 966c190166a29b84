"""The champion is judged on rows neither model trained on, and the default gate protects it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.demo.credit import generate_credit
from forgeml.project import Project
from forgeml.registry import model_version
from forgeml.training.gate_version import gate
from forgeml.training.trainer import train
from forgeml.training.unseen import unseen_by
from forgeml.training.version_rows import run_rows, version_rows

# No 'gate:' section: the default gate applies.
SPEC = """\
train:
  target: defaulted
  exclude: [customer_id, month, application_date]
  candidates: [logistic]
  budget: {trials: 1, time: 5m}
"""


@pytest.fixture
def credit(tmp_path: Path, one_thread_each: None) -> Iterator[Project]:
    root = tmp_path / "credit"
    root.mkdir()
    (root / SPEC_FILE).write_text(SPEC)
    project = Project.init(root)
    ingest(generate_credit(rows_per_month=150, months=4, seed=3), name="credit", project=project)
    yield project
    project.close()


def test_without_a_gate_the_default_gate_runs_and_the_card_says_so(credit: Project) -> None:
    result = train(project=credit)
    assert result.gate.default and result.gate.ran and result.promoted
    checks = {c.name: c for c in result.gate.checks}
    assert checks["roc_auc vs baseline"].passed and not checks["roc_auc vs baseline"].skipped
    assert "majority class" in checks["roc_auc vs baseline"].detail
    assert checks["roc_auc vs champion"].skipped  # no champion yet
    card = result.context["gate"]
    assert card["default"] and card["passed"] is True
    assert result.context["model"]["positive_class"] is True


def test_rows_the_champion_trained_on_are_left_out_of_the_comparison(credit: Project) -> None:
    train(project=credit)
    champion = model_version("credit@champion", project=credit)
    seen = version_rows(champion, credit)
    # A newer version repeats every row of the first, and adds new ones.
    fresh = generate_credit(rows_per_month=150, months=2, seed=11)
    ingest(
        pa.concat_tables([seen.table, fresh.cast(seen.table.schema)]), name="credit", project=credit
    )

    result = train(project=credit, dataset_ref="credit@2")  # registered or not, as it scores
    assert result.champion is not None
    compared, test_rows = result.champion["rows"], result.test["rows"]
    assert 0 < compared < test_rows
    assert f"{compared} of {test_rows} held-out rows" in result.champion["note"]
    test = run_rows(result.run_id, "credit@2", credit)
    unseen = unseen_by(test.take(test.split.test), [champion], credit)
    assert int(unseen.sum()) == compared
    vs = next(c for c in result.gate.checks if c.name == "roc_auc vs champion")
    assert vs.value == pytest.approx(
        result.champion["candidate"]["roc_auc"] - result.champion["roc_auc"]
    )


def test_no_rows_left_to_compare_fails_instead_of_favouring_the_champion(
    credit: Project,
) -> None:
    train(project=credit)
    champion = model_version("credit@champion", project=credit)
    seen = version_rows(champion, credit)
    ingest(seen.take(seen.trained), name="credit", project=credit)  # only rows it learnt from

    result = train(project=credit, dataset_ref="credit@2")
    vs = next(c for c in result.gate.checks if c.name == "roc_auc vs champion")
    assert not vs.passed and "no row is left that neither model saw" in vs.detail
    assert result.model is None and not result.gate.passed
    assert model_version("credit@champion", project=credit).version == 1


def test_forgeml_gate_compares_a_version_on_rows_the_champion_did_not_see(
    credit: Project,
) -> None:
    train(project=credit)
    champion = model_version("credit@champion", project=credit)
    seen = version_rows(champion, credit)
    ingest(seen.take(seen.trained), name="credit", project=credit)
    train(project=credit, dataset_ref="credit@2", register=False)
    report = gate("credit@1", project=credit)  # the champion itself: nothing to compare
    assert report.champion is None and report.result.passed
