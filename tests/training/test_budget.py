"""The time budget covers the whole command, and the search spends it where it pays."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE, TrainSpec
from forgeml.data import ingest
from forgeml.project import Project
from forgeml.training.budget import AFTER_MIN_S, MAX_SLOWDOWN, TimeBudget
from forgeml.training.schedule import MIN_TRIES
from forgeml.training.search import Report, run_search
from forgeml.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread_each")

SPACES = {
    "cheap": lambda t, task: {"c": t.suggest_float("c", 0, 1)},
    "strong": lambda t, task: {"x": t.suggest_float("x", -1, 1)},
}
WARM = {"strong": [{"x": 0.25}]}


def _score(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
    if name == "cheap":
        return 0.6 + 0.01 * params.get("c", 0.0)
    return 0.9 - 0.05 * params.get("x", 0.5) ** 2


def test_the_trial_cap_is_no_cap_unless_set() -> None:
    assert TrainSpec().budget.trials is None
    assert TrainSpec.model_validate({"budget": {"trials": 7}}).budget.trials == 7


def test_a_time_budget_alone_is_used_to_its_end_less_the_reserve() -> None:
    handed: list[float | None] = []

    def evaluate(
        name: str, params: dict[str, Any], report: Report, deadline: float | None
    ) -> float:
        handed.append(deadline)
        time.sleep(0.01)
        return _score(name, params, report, deadline)

    began = time.monotonic()
    result = run_search(
        evaluate,
        SPACES,
        task="binary",
        trials=None,
        seconds=1.5,
        higher_is_better=True,
        seed=0,
        reserve=lambda best: 0.5,
    )
    finished = time.monotonic()
    assert len(result.trials) > 3
    # every trial was handed the search's end: 1.5 s from its start, less the 0.5 s reserve
    (end,) = set(handed)
    assert end is not None and began + 1.0 <= end <= finished  # used to its end


def test_warm_starts_follow_the_defaults_and_a_trailing_candidate_stops() -> None:
    result = run_search(
        _score,
        SPACES,
        task="binary",
        trials=20,
        seconds=None,
        higher_is_better=True,
        seed=0,
        warm_starts=WARM,
        valid_rows=5_000,
    )
    first = [(t.candidate, t.params) for t in result.trials[:3]]
    assert first == [("cheap", {}), ("strong", {}), ("strong", {"x": 0.25})]
    cheap = [t for t in result.trials if t.candidate == "cheap"]
    assert len(cheap) == MIN_TRIES  # it trails by far: no trials after it is judged
    assert len(result.trials) == 20 and result.candidate == "strong"


def test_the_reserve_grows_with_the_best_trials_cost_and_stays_within_half() -> None:
    budget = TimeBudget(began=0.0, seconds=30.0)
    small = budget.reserve(1.0, train_rows=6_000, fitted_rows=8_000)
    large = budget.reserve(5.0, train_rows=6_000, fitted_rows=8_000)
    assert budget.after_reserve() < small < large <= 15.0
    assert budget.reserve(1_000.0, train_rows=6_000, fitted_rows=8_000) == 15.0
    assert budget.refit_deadline() == 30.0 - budget.after_reserve() / 2
    assert TimeBudget(began=0.0, seconds=None).reserve(5.0, train_rows=1, fitted_rows=2) == 0.0


def test_a_refit_that_would_not_fit_the_budget_keeps_the_search_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TimeBudget, "refit_estimate", lambda self, *a, **k: 1e6)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2500, 3))
    table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] + rng.normal(size=2500) > 0})
    root = tmp_path / "p"
    root.mkdir()
    (root / SPEC_FILE).write_text(
        "train:\n  target: y\n  candidates: [lightgbm]\n  budget: {trials: 1, time: 10m}\n"
    )
    project = Project.init(root)
    ingest(table, name="data", project=project)
    said: list[str] = []
    result = train(project=project, progress=said.append)
    refit = result.context["model"]["refit"]
    assert refit["refitted"] is False and "not refitted" in refit["note"]
    assert refit["rows"] == result.context["dataset"]["split"]["train"]
    assert result.model is not None and result.model.lineage["rows"]["fitted"] == refit["rows"]
    assert any("kept the model fitted on the training rows" in line for line in said)
    project.close()


def test_the_later_steps_reserve_stretches_on_a_machine_that_runs_slower_than_its_cpu() -> None:
    budget = TimeBudget.starting_now(30.0)
    time.sleep(1.1)  # wall time passes, this process's CPU time barely moves: a slow machine
    assert budget.slowdown() == MAX_SLOWDOWN
    assert budget.after_reserve() == AFTER_MIN_S * MAX_SLOWDOWN
    assert TimeBudget(began=0.0, seconds=30.0).slowdown() == 1.0  # not measured
