"""Candidate search with Optuna: within a trial and time budget, with pruning, reproducibly.

Each candidate's default configuration is tried first, so the search never does worse
than the defaults; then each candidate's known-good configurations; then a seeded TPE
sampler explores the candidates' spaces, and :mod:`forgeml.training.schedule` decides
which candidate each trial goes to (most to the leader; none to a candidate that trails).
With the same data, spec and seed, a trial cap gives the same trials and the same winner;
without one, the budget is shared by the clock, so the trials are not reproducible.

Trials can also run elsewhere, several at once (a :class:`Pool`, e.g. Ray tasks: see
:mod:`forgeml.training.ray_search`), while the sampler stays here: a trial is asked for
as soon as a slot is free and told when its result comes back. Its reports come back with
it and are replayed to the pruner then, so a trial the pruner would have stopped is
recorded as ``pruned`` (after running to its end). Trials whose configuration is fixed
(the defaults, the warm starts) are the same whatever the number of slots; tuned trials
are asked for before their predecessors are told, so they differ from a one-by-one search.
Ties between equal scores go to the earlier trial, as they do one by one.

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
from typing import Any, Protocol

from forgeml.errors import ConfigError
from forgeml.training.schedule import Schedule

__all__ = [
    "Cut",
    "Outcome",
    "Pool",
    "Pruned",
    "Report",
    "SearchResult",
    "Trial",
    "parse_duration",
    "run_search",
]

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
class Outcome:
    """What a trial run by a :class:`Pool` sent back: its result, or the error that ended
    it, the ``(step, value)`` reports it made, and the seconds it ran."""

    value: float | Cut | None  # None when it failed
    reports: list[tuple[int, float]]
    seconds: float
    error: str | None = None


class Pool(Protocol):
    """Runs trials somewhere else, up to ``slots`` at once."""

    @property
    def slots(self) -> int: ...

    def submit(self, key: int, candidate: str, params: Params, deadline: float | None) -> None:
        """Start a trial of ``candidate`` with ``params``; ``deadline`` as for ``evaluate``."""
        ...

    def next_done(self) -> tuple[int, Outcome]:
        """Wait for a started trial to end: its ``key`` and what it sent back."""
        ...


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
    finalists: dict[str, float] = field(default_factory=dict)  # scores on redrawn folds


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
    pool: Pool | None = None,
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
    first configuration (a complete one: every parameter of its space). ``pool`` runs the
    trials (``evaluate`` is then not called), up to ``pool.slots`` at once.
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

    def ask() -> tuple[Any, str, Params]:
        name, fixed = schedule.next()
        study.enqueue_trial({"candidate": name, **(fixed or {})})
        trial = study.ask()
        trial.suggest_categorical("candidate", names)
        return trial, name, {} if fixed == {} else spaces[name](trial, task)

    def tell(trial: Any, record: Trial) -> None:
        nonlocal best
        history.append(record)
        schedule.record(record.candidate, record.score, record.seconds)
        if record.state == "complete" and _better(record, best, higher_is_better):
            best = record
        if on_trial:
            on_trial(record, best)
        if record.state in ("pruned", "stopped"):
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif record.state == "failed":
            study.tell(trial, -math.inf if higher_is_better else math.inf)
        else:
            study.tell(trial, record.score)

    if pool is None:
        while trials is None or len(history) < trials:
            end = search_end()
            if end is not None and time.monotonic() >= end and history:
                break  # the first trial always runs: there is no model without one
            trial, name, params = ask()
            tell(trial, _run_trial(evaluate, trial, name, params, end, best is not None))
    else:
        running: dict[int, tuple[Any, str, Params]] = {}
        asked = 0
        while True:
            while len(running) < max(1, pool.slots) and (trials is None or asked < trials):
                end = search_end()
                if end is not None and time.monotonic() >= end and (history or running):
                    break
                trial, name, params = ask()
                pool.submit(trial.number, name, params, end)
                running[trial.number] = (trial, name, params)
                asked += 1
            if not running:
                break
            key, outcome = pool.next_done()
            trial, name, params = running.pop(key)
            tell(trial, _settle(trial, name, params, outcome, best is not None))
        history.sort(key=lambda t: t.number)
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

    value: float | Cut | None
    error: str | None = None
    try:
        value = evaluate(name, params, report, deadline)
    except Pruned:
        return Trial(trial.number, name, params, None, "pruned", time.monotonic() - began)
    except Exception as e:
        value, error = None, f"{type(e).__name__}: {e}"
    return _record(
        trial.number, name, params, value, error, time.monotonic() - began, scored_before
    )


def _settle(trial: Any, name: str, params: Params, outcome: Outcome, scored_before: bool) -> Trial:
    """The record of a trial a pool ran: its reports replayed to the pruner first."""
    for step, value in outcome.reports:
        trial.report(value, step)
        if trial.should_prune():
            return Trial(trial.number, name, params, None, "pruned", outcome.seconds)
    return _record(
        trial.number, name, params, outcome.value, outcome.error, outcome.seconds, scored_before
    )


def _record(
    number: int,
    name: str,
    params: Params,
    value: float | Cut | None,
    error: str | None,
    seconds: float,
    scored_before: bool,
) -> Trial:
    """A trial's record from what ``evaluate`` returned (None and ``error``: it raised)."""
    cut = value if isinstance(value, Cut) else None
    if value is None:
        score, state = math.nan, "failed"
    else:
        score = float(value.score) if isinstance(value, Cut) else float(value)
        state, error = ("complete", None) if math.isfinite(score) else ("failed", "not finite")
    if cut and (not math.isfinite(score) or (not cut.whole and scored_before)):
        score, state, error = math.nan, "stopped", None  # partly scored: not comparable
    return Trial(
        number,
        name,
        params,
        None if state != "complete" else score,
        state,
        seconds,
        error,
        stopped=cut is not None,
    )


def _better(record: Trial, best: Trial | None, higher_is_better: bool) -> bool:
    """Whether ``record`` beats ``best``; of equal scores, the earlier trial's wins."""
    if best is None or best.score is None:
        return True
    assert record.score is not None
    if record.score == best.score:
        return record.number < best.number
    return record.score > best.score if higher_is_better else record.score < best.score
