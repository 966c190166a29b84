"""The time budget covers the whole command, and the search spends it where it pays."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from forgeml.config import TrainSpec
from forgeml.project import Project
from forgeml.training.budget import AFTER_MIN_S, MAX_SLOWDOWN, SCORING_MARGIN, TimeBudget
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


def test_the_later_steps_keep_the_time_to_score_their_rows_with_the_best_model() -> None:
    budget = TimeBudget(began=0.0, seconds=30.0, scored_rows=10_000)
    fixed = budget.after_reserve()
    # a model that scores a row in 0.2 ms: 2 s for the 10,000 rows, with the margin
    assert budget.after_reserve(0.0002) == pytest.approx(fixed + SCORING_MARGIN * 2.0)
    cheap = budget.reserve(1.0, train_rows=6_000, fitted_rows=8_000, row_seconds=0.0)
    costly = budget.reserve(1.0, train_rows=6_000, fitted_rows=8_000, row_seconds=0.0002)
    # the refit adds a third more rounds, so the refitted model scores a third slower
    assert costly - cheap == pytest.approx(SCORING_MARGIN * 2.0 * 8 / 6)
    # the refit's share stays within half the budget; the scoring the later steps need
    # does not: a model that takes 40 s to score its rows ends the search at once
    assert budget.reserve(1_000.0, train_rows=6_000, fitted_rows=8_000) == 15.0
    slow = budget.reserve(1_000.0, train_rows=6_000, fitted_rows=8_000, row_seconds=0.004)
    assert slow == pytest.approx(budget.after_reserve(0.004 * 8 / 6))
    assert slow > 30.0
    # the refit stops adding rounds early enough for the later steps to score its model
    assert budget.refit_deadline(0.0002) == pytest.approx(30.0 - fixed / 2 - SCORING_MARGIN * 2.0)


def test_every_trial_ends_early_enough_for_its_own_refit() -> None:
    budget = TimeBudget(began=time.monotonic() - 20.0, seconds=30.0)  # 10 s left
    rows = {"train_rows": 6_000, "fitted_rows": 8_000}
    first = budget.trial_reserve(None, row_seconds=0.0, **rows)
    # a trial that runs to its end leaves room to refit it on 4/3 the rows, should it win
    assert (10.0 - first) * 8 / 6 + budget.after_reserve() == pytest.approx(first, abs=0.01)
    assert budget.trial_reserve(0.1, row_seconds=0.0, **rows) == pytest.approx(first, abs=0.01)
    # a costly best trial: its own refit's reserve is the larger, and it is kept
    costly = budget.trial_reserve(3.0, row_seconds=0.0, **rows)
    assert costly == pytest.approx(budget.reserve(3.0, **rows)) and costly > first + 1.0
    # cross-validated trials, once one has a score, run to the search's end as before
    cheap = budget.trial_reserve(0.1, row_seconds=0.0, own_refit=False, **rows)
    assert cheap == pytest.approx(budget.reserve(0.1, **rows)) and cheap < first - 1.0


def test_a_refit_that_would_not_fit_the_budget_keeps_the_search_model(
    lightgbm_project: Callable[[int], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TimeBudget, "refit_estimate", lambda self, *a, **k: 1e6)
    project = lightgbm_project(2500)
    said: list[str] = []
    result = train(project=project, progress=said.append)
    refit = result.context["model"]["refit"]
    assert refit["refitted"] is False and "not refitted" in refit["note"]
    assert refit["rows"] == result.context["dataset"]["split"]["train"]
    assert result.model is not None and result.model.lineage["rows"]["fitted"] == refit["rows"]
    assert any("kept the model fitted on the training rows" in line for line in said)


def test_the_later_steps_reserve_stretches_on_a_machine_that_runs_slower_than_its_cpu() -> None:
    budget = TimeBudget.starting_now(30.0)
    time.sleep(1.1)  # wall time passes, this process's CPU time barely moves: a slow machine
    assert budget.slowdown() == MAX_SLOWDOWN
    assert budget.after_reserve() == AFTER_MIN_S * MAX_SLOWDOWN
    assert TimeBudget(began=0.0, seconds=30.0).slowdown() == 1.0  # not measured
