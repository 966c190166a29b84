"""A search whose trials run in a pool, several at once, with the sampler in this process."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from forgeml.errors import MissingDependency
from forgeml.training.search import Outcome, Report, run_search

SPACES = {
    "smooth": lambda t, task: {"x": t.suggest_float("x", -2, 2)},
    "bumpy": lambda t, task: {"y": t.suggest_int("y", 0, 10)},
}


def _score(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
    if name == "smooth":
        return float(1 - (params.get("x", 1.0) - 0.5) ** 2)
    return float(0.5 + params.get("y", 0) / 100)


class BackwardsPool:
    """Runs trials in this process, but hands back the latest started first."""

    def __init__(self, slots: int, score: Any = _score) -> None:
        self.slots = slots
        self.started: list[int] = []
        self.most_running = 0
        self._waiting: list[tuple[int, str, dict[str, Any]]] = []
        self._score = score

    def submit(self, key: int, candidate: str, params: dict[str, Any], deadline: Any) -> None:
        self.started.append(key)
        self._waiting.append((key, candidate, params))
        self.most_running = max(self.most_running, len(self._waiting))

    def next_done(self) -> tuple[int, Outcome]:
        key, candidate, params = self._waiting.pop()
        reports: list[tuple[int, float]] = []
        try:
            value = self._score(candidate, params, lambda s, v: reports.append((s, v)), None)
        except Exception as e:
            return key, Outcome(None, reports, 0.01, f"{type(e).__name__}: {e}")
        return key, Outcome(value, reports, 0.01)


def _search(pool: BackwardsPool | None, trials: int = 12, **kw: Any) -> Any:
    return run_search(
        _score,
        SPACES,
        task="binary",
        trials=trials,
        seconds=None,
        higher_is_better=True,
        seed=3,
        pool=pool,
        **kw,
    )


def test_fixed_trials_in_a_pool_match_the_one_by_one_search() -> None:
    local = _search(None, trials=2)  # the two defaults: a fixed trial list
    pool = BackwardsPool(slots=2)
    pooled = _search(pool, trials=2)
    assert pool.most_running == 2
    assert [(t.number, t.candidate, t.params, t.score) for t in pooled.trials] == [
        (t.number, t.candidate, t.params, t.score) for t in local.trials
    ]
    assert (pooled.candidate, pooled.params, pooled.score) == (
        local.candidate,
        local.params,
        local.score,
    )


def test_a_pool_keeps_its_slots_busy_and_the_sampler_finds_the_optimum() -> None:
    pool = BackwardsPool(slots=3)
    seen: list[int] = []
    result = _search(pool, trials=24, on_trial=lambda t, best: seen.append(t.number))
    assert pool.most_running == 3 and len(result.trials) == 24
    assert seen != sorted(seen)  # told as they came back ...
    assert [t.number for t in result.trials] == list(range(24))  # ... recorded in order
    assert result.candidate == "smooth" and result.score > 0.95
    again = _search(BackwardsPool(slots=3), trials=24)
    assert [t.params for t in again.trials] == [t.params for t in result.trials]


def test_equal_scores_go_to_the_earlier_trial_whatever_came_back_first() -> None:
    def flat(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        return 0.5

    result = _search(BackwardsPool(slots=4, score=flat), trials=4)
    assert result.trials[0].state == "complete"
    assert (result.candidate, result.params) == ("smooth", {})  # trial 0, told last


def test_failures_and_pruning_reports_come_back_from_the_pool() -> None:
    def noisy(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        if name == "bumpy" and params:
            raise ValueError("singular matrix")
        value = _score(name, params, report, deadline)
        for step in range(3):
            report(step, value if name == "smooth" else 0.0)
        return value

    result = _search(BackwardsPool(slots=2, score=noisy), trials=30)
    states = {t.state for t in result.trials}
    assert "failed" in states and "pruned" in states, states
    failed = [t for t in result.trials if t.state == "failed"]
    assert all(t.candidate == "bumpy" and "singular matrix" in (t.error or "") for t in failed)
    assert result.candidate == "smooth"


def test_a_time_budget_stops_asking_and_waits_for_the_running_trials() -> None:
    class Slow(BackwardsPool):
        def next_done(self) -> tuple[int, Outcome]:
            time.sleep(0.05)
            return super().next_done()

    pool = Slow(slots=2)
    result = run_search(
        _score,
        SPACES,
        task="binary",
        trials=None,
        seconds=0.4,
        higher_is_better=True,
        seed=0,
        pool=pool,
    )
    assert 2 <= len(result.trials) <= 30
    assert len(result.trials) == len(pool.started)  # every started trial was recorded


def test_training_on_ray_without_ray_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from forgeml.training.ray_search import connect

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(MissingDependency) as caught:
        connect("auto")
    assert "forgeml[ray]" in str(caught.value.fix) and "--backend ray" in str(caught.value)
