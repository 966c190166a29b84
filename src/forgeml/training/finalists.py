"""The search's finalists scored again, on cross-validation folds none of them was chosen on.

A search that tries hundreds of configurations of one candidate and keeps the best
cross-validated score keeps, among nearly equal ones, the one the folds happened to suit:
its score flatters it, the more the more it was tuned (the winner's curse). A candidate
tuned less (ridge regression has one setting) is flattered less, and on a small, noisy
table loses the search to a tuned one that is no better on new rows. So, when trials are
cross-validated on shuffled folds, the best configuration of each candidate within reach
of the leader is scored again on folds drawn with another seed, and the best of them there
wins. Time-ordered and group folds are the same whatever the seed: nothing to redraw.

>>> from forgeml.training.search import Trial
>>> trials = [Trial(0, "ridge", {}, 53.2, "complete", 0.1),
...           Trial(1, "boost", {"d": 9}, 52.4, "complete", 0.5),
...           Trial(2, "boost", {"d": 3}, 52.9, "complete", 0.5)]
>>> result = SearchResult("boost", {"d": 9}, 52.4, trials)
>>> again = {"ridge": 53.4, "boost": 54.1}
>>> chosen = rescore_finalists(result, lambda name, params: again[name],
...     higher_is_better=False, trail=0.05, seconds_left=lambda: None, say=print)
finalists on redrawn folds: boost 54.1000, ridge 53.4000: ridge
>>> chosen.candidate, chosen.score, chosen.finalists
('ridge', 53.2, {'boost': 54.1, 'ridge': 53.4})
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from forgeml.training.search import Cut, SearchResult, Trial

__all__ = ["FINALIST_RESERVE_SHARE", "finalists", "rescore_finalists", "trial_loss"]

FINALIST_RESERVE_SHARE = 0.2  # at most this share of a time budget is kept for them


def finalists(trials: list[Trial], *, higher_is_better: bool, trail: float) -> list[Trial]:
    """The best complete trial of each candidate, best first, whose loss is at most
    ``trail`` (relatively) worse than the best one's."""
    best: dict[str, Trial] = {}
    for trial in trials:
        if trial.state != "complete" or trial.score is None:
            continue
        held = best.get(trial.candidate)
        if held is None or trial_loss(trial, higher_is_better) < trial_loss(held, higher_is_better):
            best[trial.candidate] = trial
    ranked = sorted(best.values(), key=lambda t: (trial_loss(t, higher_is_better), t.number))
    if not ranked:
        return []
    top = trial_loss(ranked[0], higher_is_better)
    return [t for t in ranked if trial_loss(t, higher_is_better) - top <= trail * max(top, 1e-12)]


def rescore_finalists(
    result: SearchResult,
    score: Callable[[str, dict[str, Any]], float | Cut],
    *,
    higher_is_better: bool,
    trail: float,
    seconds_left: Callable[[], float | None],
    say: Callable[[str], None],
) -> SearchResult:
    """``result`` with the finalist that scores best on redrawn folds as its winner.

    ``score(candidate, params)`` runs one cross-validated trial on the redrawn folds;
    ``seconds_left()`` is the time they may take (None: no limit): a finalist whose first
    trial took longer is not scored again. The winner's score stays its search score; what
    each finalist scored again is in ``finalists``.
    """
    chosen = finalists(result.trials, higher_is_better=higher_is_better, trail=trail)
    if len(chosen) < 2:
        return result
    again: dict[str, float] = {}
    for trial in chosen:
        left = seconds_left()
        if left is not None and trial.seconds > left:
            say(f"finalists: no time left to score {trial.candidate} again")
            break
        value = score(trial.candidate, trial.params)
        if isinstance(value, Cut) or not math.isfinite(value):
            continue
        again[trial.candidate] = float(value)
    if result.candidate not in again or len(again) < 2:
        return result
    sign = 1.0 if higher_is_better else -1.0
    order = {t.candidate: i for i, t in enumerate(chosen)}
    name = max(again, key=lambda c: (sign * again[c], -order[c]))
    shown = ", ".join(f"{c} {v:.4f}" for c, v in again.items())
    say(f"finalists on redrawn folds: {shown}: {name}")
    winner = next(t for t in chosen if t.candidate == name)
    assert winner.score is not None
    return replace(
        result,
        candidate=winner.candidate,
        params=winner.params,
        score=winner.score,
        finalists=dict(sorted(again.items())),
    )


def trial_loss(trial: Trial, higher_is_better: bool) -> float:
    """A complete trial's loss: its score, or 1 - score for higher-is-better metrics."""
    if trial.score is None:
        return math.inf
    return (1.0 - trial.score) if higher_is_better else trial.score
