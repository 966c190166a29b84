"""Boosted trees paced to the time budget: a first trial that finishes, and room for more.

LightGBM's defaults (learning rate 0.05, up to 2,000 trees with early stopping) converge in
a few hundred rounds. On a large table each round can take a tenth of a second or more, and
the first trial alone would then take most of a time budget, be cut before it converged,
and leave no time for other trials or for the refit. So before the search, a short *probe*
fits a few rounds of the defaults on the training rows and measures the seconds before
the first round (binning the rows) and per round (:class:`Pace`). When the defaults'
expected cost is more than :data:`FIRST_TRIAL_SHARE` of the search's time, the search
starts from a cheaper configuration that learns faster instead (:func:`paced_start`): the
lowest learning rate of :data:`RATES` that fits, and when none fits, the highest with
smaller trees, each on half the rows and columns. Its known-good configurations are moved
to that learning rate and sampling (:func:`paced_warm_starts`), and the tuned trials sample
learning rates from half of it up (:func:`paced_space`).

The expected number of rounds is :data:`ROUNDS_AT_DEFAULT` at the default learning rate,
inversely proportional to the learning rate, plus early stopping's patience, which shrinks
with the learning rate as well (:func:`patience_for`: a model that learns four times
faster needs a quarter of the rounds to show that it has stopped improving).

>>> pace = Pace(setup=1.0, per_round=0.05)
>>> round(pace.trial_seconds(0.05), 1), round(pace.trial_seconds(0.2), 1)
(28.5, 7.9)
>>> paced_start(pace, search_seconds=200.0) is None  # the defaults fit 15% of it
True
>>> paced_start(pace, search_seconds=60.0)["learning_rate"]
0.2
>>> start = paced_start(Pace(setup=1.0, per_round=0.5), search_seconds=28.0)
>>> start["learning_rate"], start["num_leaves"], start["subsample"], start["colsample_bytree"]
(0.3, 15, 0.5, 0.5)
>>> patience_for(0.05), patience_for(0.2), patience_for(0.01)
(50, 12, 50)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from forgeml.training.lgbm import EARLY_STOPPING_ROUNDS

__all__ = [
    "DEFAULT_RATE",
    "FIRST_TRIAL_SHARE",
    "PROBE_ROUNDS",
    "RATES",
    "ROUNDS_AT_DEFAULT",
    "Pace",
    "paced_space",
    "paced_start",
    "paced_warm_starts",
    "patience_for",
    "probe",
]

Params = dict[str, Any]
PROBE_ROUNDS = 8  # rounds the probe fits: the first one's cost is told apart from the rest
DEFAULT_RATE = 0.05  # LightGBM's learning rate in forgeml's defaults
ROUNDS_AT_DEFAULT = 500  # rounds assumed to converge at DEFAULT_RATE (scaled by 1/rate)
FIRST_TRIAL_SHARE = 0.15  # of the search's seconds, the most the first trial should take
RATES = (0.05, 0.1, 0.2, 0.3)  # learning rates a paced start chooses from, slowest first
MIN_PATIENCE = 10
SMALL_LEAVES = 15  # trees of a paced start when even the highest rate does not fit
HALF_ROWS = 0.5  # and the share of rows each of its rounds is grown on
HALF_COLUMNS = 0.5  # and of columns each of its trees considers


@dataclass(frozen=True)
class Pace:
    """What the probe measured: seconds before the first round, and per round after it."""

    setup: float
    per_round: float

    def trial_seconds(self, rate: float, subsample: float = 1.0, columns: float = 1.0) -> float:
        """The expected seconds of a trial with learning rate ``rate`` (early stopping),
        each tree grown on a ``subsample`` share of the rows and ``columns`` of the columns."""
        rounds = ROUNDS_AT_DEFAULT * DEFAULT_RATE / rate + patience_for(rate)
        # sampling builds each tree's histograms on a share of the data; the rest stays
        return self.setup + self.per_round * rounds * (0.3 + 0.7 * subsample * columns)


def patience_for(rate: float) -> int:
    """Rounds without improvement after which early stopping ends a trial at ``rate``."""
    scaled = round(EARLY_STOPPING_ROUNDS * DEFAULT_RATE / rate)
    return max(MIN_PATIENCE, min(EARLY_STOPPING_ROUNDS, scaled))


def probe(
    cand: Any,
    task: str,
    seed: int,
    class_weight: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray | None = None,
    y_valid: np.ndarray | None = None,
) -> Pace:
    """Fit :data:`PROBE_ROUNDS` rounds of ``cand``'s defaults on ``(x, y)`` and time them,
    scoring ``(x_valid, y_valid)`` after each round as early stopping does."""
    estimator = cand.build(task, {"n_estimators": PROBE_ROUNDS}, seed, class_weight)
    scored: dict[str, Any] = {}
    if x_valid is not None and y_valid is not None:
        if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM >= 4.7
            scored = {"eval_X": (x_valid,), "eval_y": (y_valid,)}
        else:
            scored = {"eval_set": [(x_valid, y_valid)]}
    times: list[float] = []

    def clock(env: Any) -> None:
        times.append(time.monotonic())

    began = time.monotonic()
    estimator.fit(x, y, callbacks=[clock], **scored)
    if len(times) < 2:
        total = time.monotonic() - began
        return Pace(setup=0.0, per_round=total / max(1, len(times)))
    # the median gap between rounds: one round slowed by another process does not count
    per_round = float(np.median(np.diff(times)))
    return Pace(setup=max(0.0, times[0] - began - per_round), per_round=per_round)


def paced_start(pace: Pace, *, search_seconds: float) -> Params | None:
    """The configuration to start the search from; None when the defaults fit."""
    allowed = FIRST_TRIAL_SHARE * search_seconds
    if pace.trial_seconds(DEFAULT_RATE) <= allowed:
        return None
    for rate in RATES[1:]:
        if pace.trial_seconds(rate) <= allowed:
            return _configuration(rate, 31, 1.0)
    return _configuration(RATES[-1], SMALL_LEAVES, HALF_ROWS, HALF_COLUMNS)


def _configuration(rate: float, leaves: int, subsample: float, columns: float = 1.0) -> Params:
    return {
        "learning_rate": rate,
        "num_leaves": leaves,
        "min_child_samples": 20,
        "subsample": subsample,
        "colsample_bytree": columns,
        "reg_lambda": 1e-6,  # the space's lowest (LightGBM's default is 0)
        "early_stopping_rounds": patience_for(rate),
    }


def paced_warm_starts(warm_starts: Sequence[Params], start: Params) -> list[Params]:
    """``warm_starts`` at the paced start's learning rate (or above) and sampling."""
    rate, rows, columns = start["learning_rate"], start["subsample"], start["colsample_bytree"]
    paced = []
    for params in warm_starts:
        faster = max(float(params.get("learning_rate", DEFAULT_RATE)), rate)
        paced.append(
            dict(params)
            | {
                "learning_rate": faster,
                "subsample": min(float(params.get("subsample", 1.0)), rows),
                "colsample_bytree": min(float(params.get("colsample_bytree", 1.0)), columns),
                "early_stopping_rounds": patience_for(faster),
            }
        )
    return paced


def paced_space(start: Params) -> Any:
    """LightGBM's search space with learning rates from half the paced start's up."""
    low = max(0.01, start["learning_rate"] / 2)

    def suggest(trial: Any, task: str) -> Params:
        rate = trial.suggest_float("learning_rate", low, max(RATES), log=True)
        return {
            "learning_rate": rate,
            "num_leaves": trial.suggest_int("num_leaves", 8, 256, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
            "early_stopping_rounds": patience_for(rate),
        }

    return suggest
