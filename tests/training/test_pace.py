"""LightGBM paced to the time budget: a first trial that converges, and several trials."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.project import Project
from forgeml.training.candidates import candidate
from forgeml.training.pace import (
    DEFAULT_RATE,
    FIRST_TRIAL_SHARE,
    RATES,
    Pace,
    paced_space,
    paced_start,
    paced_warm_starts,
    patience_for,
    probe,
)
from forgeml.training.schedule import Schedule
from forgeml.training.search import Report, run_search
from forgeml.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread_each")

ROWS = 60_000
FEATURES = 60
BUDGET_S = 30.0  # the later steps score 62,000 rows with the model: time is kept for that


def test_the_defaults_are_kept_when_they_fit_and_replaced_when_they_do_not() -> None:
    fast = Pace(setup=0.1, per_round=0.001)
    assert paced_start(fast, search_seconds=30.0) is None
    slow = Pace(setup=0.5, per_round=0.05)
    start = paced_start(slow, search_seconds=60.0)
    assert start is not None and start["learning_rate"] > DEFAULT_RATE
    # the chosen start fits its share of the time, and is the slowest rate that does
    assert slow.trial_seconds(start["learning_rate"]) <= FIRST_TRIAL_SHARE * 60.0
    slower = RATES[RATES.index(start["learning_rate"]) - 1]
    assert slow.trial_seconds(slower) > FIRST_TRIAL_SHARE * 60.0
    assert start["early_stopping_rounds"] == patience_for(start["learning_rate"]) < 50
    hopeless = paced_start(Pace(setup=1.0, per_round=2.0), search_seconds=30.0)
    assert hopeless is not None
    assert (hopeless["learning_rate"], hopeless["subsample"]) == (max(RATES), 0.5)
    assert hopeless["num_leaves"] < 31


def test_warm_starts_and_the_space_follow_the_paced_start() -> None:
    import optuna

    start = paced_start(Pace(setup=0.5, per_round=0.05), search_seconds=60.0)
    assert start is not None
    warm = paced_warm_starts(candidate("lightgbm").warm_starts, start)
    assert [w["learning_rate"] for w in warm] == [start["learning_rate"]] * 2
    assert [w["num_leaves"] for w in warm] == [8, 63]  # their shapes are kept
    suggest = paced_space(start)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        params = suggest(study.ask(), "binary")
        assert start["learning_rate"] / 2 <= params["learning_rate"] <= max(RATES)
        assert params["early_stopping_rounds"] == patience_for(params["learning_rate"])
    for fixed in (start, *warm):  # the fixed configurations are inside the space
        study.enqueue_trial(fixed)
        assert suggest(study.ask(), "binary") == fixed


def test_a_start_replaces_the_defaults_as_the_first_configuration() -> None:
    start = {"x": 0.5}
    s = Schedule(
        ["a", "b"], {"b": [{"x": 0.1}]}, higher_is_better=True, by_time=False, starts={"b": start}
    )
    assert s.next() == ("a", {})
    s.record("a", 0.5, 1.0)
    assert s.next() == ("b", start)
    s.record("b", 0.9, 1.0)
    assert s.next() == ("b", {"x": 0.1})

    def evaluate(
        name: str, params: dict[str, Any], report: Report, deadline: float | None
    ) -> float:
        return 0.9 - (float(params.get("x", 0.0)) - 0.5) ** 2

    result = run_search(
        evaluate,
        {"b": lambda t, task: {"x": t.suggest_float("x", 0, 1)}},
        task="binary",
        trials=3,
        seconds=None,
        higher_is_better=True,
        seed=0,
        starts={"b": start},
    )
    assert result.trials[0].params == start


def _table(seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, FEATURES))
    logit = x[:, 0] + np.sin(2 * x[:, 1]) + 0.5 * x[:, 2] * x[:, 3] - 0.7 * np.abs(x[:, 4])
    y = rng.random(ROWS) < 1 / (1 + np.exp(-logit))
    return pa.table({**{f"f{i}": x[:, i] for i in range(FEATURES)}, "y": y})


@pytest.fixture(scope="module")
def paced_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    root = tmp_path_factory.mktemp("paced") / "p"
    root.mkdir()
    (root / SPEC_FILE).write_text(
        f"train:\n  target: y\n  candidates: [lightgbm]\n  budget: {{time: {BUDGET_S:g}s}}\n"
    )
    with threadpool_limits(limits=1):
        project = Project.init(root)
        ingest(_table(), name="data", project=project)
        said: list[str] = []
        began = time.monotonic()
        result = train(project=project, progress=said.append)
        seconds = time.monotonic() - began
        project.close()
    return {"result": result, "said": said, "seconds": seconds}


def test_a_table_too_large_for_the_defaults_gets_a_faster_start_and_several_trials(
    paced_run: dict[str, Any],
) -> None:
    result, said = paced_run["result"], paced_run["said"]
    assert any("starting from learning rate" in line for line in said), said
    trials = result.context["search"]["trials"]
    first = trials[0]
    assert first["params"]["learning_rate"] > DEFAULT_RATE
    assert first["state"] == "complete"
    completed = [t for t in trials if t["state"] == "complete"]
    assert len(completed) >= 2, [(t["state"], t["seconds"]) for t in trials]
    best = result.context["model"]["params"]
    assert best["learning_rate"] >= first["params"]["learning_rate"] / 2


def test_the_paced_command_keeps_its_budget(paced_run: dict[str, Any]) -> None:
    result = paced_run["result"]
    refit = result.context["model"]["refit"]
    assert refit["rounds"] >= 1 and result.model is not None
    assert paced_run["seconds"] <= 1.1 * BUDGET_S


def test_a_boosted_winner_is_refitted_with_the_rounds_the_time_left_affords(
    lightgbm_project: Callable[[int], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from forgeml.training.budget import TimeBudget

    def just_over(self: TimeBudget, *args: Any, **kwargs: Any) -> float:
        deadline = self.refit_deadline()
        assert deadline is not None
        return 1.1 * (deadline - time.monotonic())  # the full refit does not quite fit

    monkeypatch.setattr(TimeBudget, "refit_estimate", just_over)
    project = lightgbm_project(3000)
    said: list[str] = []
    result = train(project=project, progress=said.append)
    refit = result.context["model"]["refit"]
    assert refit["refitted"] is True, refit
    assert refit["rows"] > result.context["dataset"]["split"]["train"]
    # fewer than the full refit's scaled rounds, never fewer than the search's model had
    assert refit["search_rounds"] <= refit["rounds"], refit
    assert any("what the time left affords" in line for line in said), said


def test_the_probe_measures_rounds() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 5))
    y = (x[:, 0] > 0).astype(int)
    pace = probe(candidate("lightgbm"), "binary", 0, None, x, y)
    assert pace.per_round > 0 and pace.setup >= 0
    assert pace.trial_seconds(0.05) > pace.trial_seconds(0.3)


def test_a_first_trial_cut_by_the_deadline_leaves_room_for_its_refit() -> None:
    from forgeml.training.budget import TimeBudget

    budget = TimeBudget.starting_now(20.0)
    reserve = budget.first_reserve(train_rows=6000, fitted_rows=8000)
    first_trial = 20.0 - reserve
    # a refit of as many rounds on 4/3 the rows fits in what the first trial leaves
    assert first_trial * 8000 / 6000 + budget.after_reserve() <= reserve + 0.01
