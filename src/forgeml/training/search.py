"""Candidate search with Optuna: within a trial and time budget, with pruning, reproducibly.

Each candidate's default configuration is tried first, so the search never does worse
than the defaults; then each candidate's known-good configurations; then a seeded TPE
sampler explores the candidates' spaces, and :mod:`forgeml.training.schedule` decides
which candidate each trial goes to (most to the leader; none to a candidate that trails).
With the same data, spec and seed, a trial cap gives the same trials and the same winner;
without one, the budget is shared by the clock, so the trials are not reproducible.

The time budget is a deadline, handed to every trial: the clock is checked between trials,
and ``evaluate`` may check it inside a trial too and return a :class:`Cut` when it ended
the trial early. A cut trial scored like any other (a boosted model with fewer trees, on
the same rows) is compared like any other; one that skipped part of its scoring (folds
left out) counts only when no earlier trial has a score, and is otherwise recorded as
``stopped``, like a pruned trial.

>>> def evaluate(name, params, report, deadline):
...     return {"a": 0.7, "b": 0.9}[name] - params.get("x", 0) ** 2
>>> spaces = {"a": lambda t, task: {"x": t.suggest_float("x", -1, 1)},
...           "b": lambda t, task: {"x": t.suggest_float("x", -1, 1)}}
>>> best = run_search(evaluate, spaces, task="binary", trials=12, seconds=None,
...                   higher_is_better=True, seed=0)
>>> best.candidate, best.params
('b', {})
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from forgeml.errors import ConfigError
from forgeml.training.schedule import Schedule

__all__ = ["Cut", "Pruned", "Report", "SearchResult", "Trial", "parse_duration", "run_search"]

Params = dict[str, Any]
Report = Callable[[int, float], None]
Space = Callable[[Any, str], Params]


class Pruned(Exception):
    """Raised by ``report`` when a trial is doing worse than its peers and should stop."""


@dataclass(frozen=True)
class Cut:
    """What ``evaluate`` returns for a trial that the deadline ended early.

    ``whole``: it was scored as an uncut trial is, on the same rows (a boosted model that
    stopped adding trees), so its score compares fairly; False when part of its scoring
    was skipped (cross-validation folds not run).
    """

    score: float  # NaN when nothing was scored
    whole: bool


# evaluate(candidate, params, report, deadline) -> score, or a Cut when the deadline (a
# time.monotonic() time, None without a time budget) ended the trial early;
# report(step, value) may raise Pruned.
Evaluate = Callable[[str, Params, Report, float | None], float | Cut]


@dataclass(frozen=True)
class Trial:
    number: int
    candidate: str
    params: Params
    score: float | None  # None unless complete
    state: str  # complete | pruned | stopped (by the time budget, unscored) | failed
    seconds: float
    error: str | None = None
    stopped: bool = False  # the time budget ended it early (its score may still count)


@dataclass(frozen=True)
class SearchResult:
    candidate: str
    params: Params
    score: float
    trials: list[Trial] = field(default_factory=list)


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``90s``, ``5m``, ``1.5h`` (None for no limit).

    >>> parse_duration("90s"), parse_duration("5m"), parse_duration("1.5h"), parse_duration(None)
    (90.0, 300.0, 5400.0, None)
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", str(text))
    if not match:
        raise ConfigError(
            f"budget time {text!r} is not a duration", fix="write it like 90s, 5m or 1h"
        )
    value = float(match.group(1))
    return value * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def run_search(
    evaluate: Evaluate,
    spaces: Mapping[str, Space],
    *,
    task: str,
    trials: int | None,
    seconds: float | None,
    higher_is_better: bool,
    seed: int,
    on_trial: Callable[[Trial, Trial | None], None] | None = None,
    warm_starts: Mapping[str, Sequence[Params]] | None = None,
    reserve: Callable[[Trial | None], float] | None = None,
    valid_rows: int | None = None,
    starts: Mapping[str, Params] | None = None,
) -> SearchResult:
    """Search ``spaces``; ``on_trial(trial, best_so_far)`` is called after every trial.

    ``trials`` caps the number of trials (None: no cap); ``seconds`` limits the time from
    now (None: no limit), of which ``reserve(best_so_far)`` seconds are left at the end
    for what follows the search (the winner's refit, evaluation, registration).
    ``warm_starts`` are known-good configurations of each candidate, tried after the
    defaults; ``valid_rows`` (how many rows a score is computed on) sets how far behind
    the leader a candidate may trail and still get trials (see
    :mod:`forgeml.training.schedule`). ``starts`` replaces a candidate's defaults as its
    first configuration (a complete one: every parameter of its space).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if trials is None and seconds is None:
        raise ConfigError(
            "the search budget has neither trials nor time",
            fix="set train.budget.trials or train.budget.time",
        )
    names = list(spaces)
    study = optuna.create_study(
        direction="maximize" if higher_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(5, len(names))),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=len(names) + 2, n_warmup_steps=1),
    )
    schedule = Schedule(
        names,
        warm_starts or {},
        higher_is_better=higher_is_better,
        by_time=trials is None,
        valid_rows=valid_rows,
        starts=starts,
    )
    history: list[Trial] = []
    best: Trial | None = None
    began = time.monotonic()

    def search_end() -> float | None:
        if seconds is None:
            return None
        kept = reserve(best) if reserve is not None else 0.0
        return began + max(0.0, seconds - kept)

    while trials is None or len(history) < trials:
        end = search_end()
        if end is not None and time.monotonic() >= end and history:
            break  # the first trial always runs: there is no model without one
        name, fixed = schedule.next()
        study.enqueue_trial({"candidate": name, **(fixed or {})})
        trial = study.ask()
        trial.suggest_categorical("candidate", names)
        params = {} if fixed == {} else spaces[name](trial, task)
        record = _run_trial(evaluate, trial, name, params, end, best is not None)
        history.append(record)
        schedule.record(name, record.score, record.seconds)
        if record.state == "complete" and (
            best is None
            or best.score is None
            or (record.score > best.score if higher_is_better else record.score < best.score)  # type: ignore[operator]
        ):
            best = record
        if on_trial:
            on_trial(record, best)
        if record.state in ("pruned", "stopped"):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif record.state == "failed":
            study.tell(trial, -math.inf if higher_is_better else math.inf)
        else:
            study.tell(trial, record.score)
    if best is None or best.score is None:
        failures = "; ".join(f"{t.candidate}: {t.error}" for t in history if t.error)[:500]
        raise ConfigError(
            f"no candidate could be trained ({failures or 'all trials pruned or stopped'})",
            fix="check the data and train.candidates",
        )
    return SearchResult(best.candidate, best.params, best.score, history)


def _run_trial(
    evaluate: Evaluate,
    trial: Any,
    name: str,
    params: Params,
    deadline: float | None,
    scored_before: bool,
) -> Trial:
    """Evaluate one trial; a candidate that fails must not end the search."""
    began = time.monotonic()

    def report(step: int, value: float) -> None:
        trial.report(value, step)
        if trial.should_prune():
            raise Pruned

    cut: Cut | None = None
    try:
        outcome = evaluate(name, params, report, deadline)
        if isinstance(outcome, Cut):
            cut, score = outcome, float(outcome.score)
        else:
            score = float(outcome)
        state, error = ("complete", None) if math.isfinite(score) else ("failed", "not finite")
    except Pruned:
        score, state, error = math.nan, "pruned", None
    except Exception as e:
        score, state, error = math.nan, "failed", f"{type(e).__name__}: {e}"
    if cut and (not math.isfinite(score) or (not cut.whole and scored_before)):
        score, state, error = math.nan, "stopped", None  # partly scored: not comparable
    return Trial(
        trial.number,
        name,
        params,
        None if state != "complete" else score,
        state,
        time.monotonic() - began,
        error,
        stopped=cut is not None,
    )
