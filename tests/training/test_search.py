"""The search is reproducible, respects its budget, survives failing candidates and prunes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from forgeml.errors import ConfigError
from forgeml.training.search import Report, Trial, parse_duration, run_search

SPACES = {
    "smooth": lambda t, task: {"x": t.suggest_float("x", -2, 2)},
    "bumpy": lambda t, task: {"y": t.suggest_int("y", 0, 10)},
}


def _score(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
    if name == "smooth":
        return 1 - (params.get("x", 1.0) - 0.5) ** 2
    return 0.5 + params.get("y", 0) / 100


def test_same_seed_same_trials_and_winner() -> None:
    runs = [
        run_search(
            _score, SPACES, task="binary", trials=20, seconds=None, higher_is_better=True, seed=7
        )
        for _ in range(2)
    ]
    assert [(t.candidate, t.params) for t in runs[0].trials] == [
        (t.candidate, t.params) for t in runs[1].trials
    ]
    assert runs[0].candidate == "smooth" and runs[0].score > 0.9
    assert runs[0].trials[0].params == {} and runs[0].trials[1].params == {}  # defaults first
    other = run_search(
        _score, SPACES, task="binary", trials=20, seconds=None, higher_is_better=True, seed=8
    )
    assert [t.params for t in other.trials] != [t.params for t in runs[0].trials]


def test_time_budget_stops_the_search() -> None:
    def slow(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        time.sleep(0.05)
        return _score(name, params, report, deadline)

    started = time.monotonic()
    result = run_search(
        slow, SPACES, task="binary", trials=None, seconds=0.5, higher_is_better=True, seed=0
    )
    assert time.monotonic() - started < 3
    assert 3 <= len(result.trials) <= 15


def test_a_failing_candidate_does_not_end_the_search() -> None:
    def flaky(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        if name == "bumpy":
            raise ValueError("singular matrix")
        return _score(name, params, report, deadline)

    seen: list[Trial] = []
    result = run_search(
        flaky,
        SPACES,
        task="binary",
        trials=8,
        seconds=None,
        higher_is_better=True,
        seed=0,
        on_trial=lambda t, best: seen.append(t),
    )
    assert result.candidate == "smooth"
    assert any(t.state == "failed" and "singular matrix" in (t.error or "") for t in seen)


def test_all_failing_is_a_clear_error() -> None:
    def broken(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        raise RuntimeError("boom")

    with pytest.raises(ConfigError, match=r"no candidate could be trained.*boom"):
        run_search(
            broken, SPACES, task="binary", trials=3, seconds=None, higher_is_better=True, seed=0
        )


def test_weak_trials_are_pruned_on_their_intermediate_scores() -> None:
    def folds(name: str, params: dict[str, Any], report: Report, deadline: float | None) -> float:
        score = _score(name, params, report, deadline)
        for step in range(5):
            report(step, score)
        return score

    result = run_search(
        folds, SPACES, task="binary", trials=40, seconds=None, higher_is_better=True, seed=1
    )
    assert any(t.state == "pruned" for t in result.trials)


def test_durations() -> None:
    assert parse_duration("2m") == 120.0
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration("five minutes")
