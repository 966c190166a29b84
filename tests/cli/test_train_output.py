"""What 'forgeml train' tells the user: data, decision, gate, progress, unwrapped in logs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from forgeml.data import ingest
from forgeml.demo.credit import generate_credit
from forgeml.project import Project

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)

TRAIN = (
    "train: {target: defaulted, exclude: [customer_id, month], slices: [region], "
    "candidates: [logistic], budget: {trials: 2, time: 5m}}\n"
)


def _project(root: Path, spec: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "forgeml.yaml").write_text(spec)
    with Project.init(root) as project:
        ingest(
            generate_credit(rows_per_month=150, months=4, seed=2), name="credit", project=project
        )
    return root


def test_train_says_what_it_trained_on_how_it_decides_and_which_gate_ran(
    forgeml_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "p", TRAIN)
    monkeypatch.delenv("COLUMNS", raising=False)  # as in a CI log: no terminal, no width
    done = forgeml_cli("-p", str(root), "train")
    assert done.code == 0, done.err
    out = done.out
    assert "trained on dataset credit@1: 600 rows" in out
    assert "positive class: True (scores are its probability)" in out
    # The whole sentence is on one line: nothing is wrapped at 80 columns.
    assert (
        "no 'gate:' section in forgeml.yaml, so the default gate applies: roc_auc must beat "
        "a trivial baseline and must not be worse than the champion's on the same rows"
    ) in out
    assert "roc_auc vs baseline" in out and "gate passed" in out
    # Progress: one plain line per trial on stderr, with the budget's clock.
    trials = [line for line in done.err.splitlines() if line.startswith("training: trial ")]
    assert [line.split(" · ")[0] for line in trials] == [
        "training: trial 1/2",
        "training: trial 2/2",
    ]
    assert all("elapsed" in line and "left of 5m 00s" in line for line in trials)
    assert "training: loading credit@1" in done.err


def test_skipped_slice_checks_are_reported_in_the_output_and_on_the_card(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    gate = "gate: {slices: {roc_auc: {min: 0.5}}, min_slice_rows: 100000}\n"
    root = _project(tmp_path / "s", TRAIN + gate)
    done = forgeml_cli("-p", str(root), "train")
    assert done.code == 0, done.err
    assert "skipped roc_auc on region=north: too few rows to judge" in done.out
    assert "no gate check ran" in done.out and "gate passed" not in done.out
    card = tmp_path / "card.html"
    assert forgeml_cli("-p", str(root), "report", "credit@1", "-o", str(card)).code == 0
    page = card.read_text()
    assert "no gate check ran" in page and "gate passed" not in page
    assert "too few rows to judge" in page
