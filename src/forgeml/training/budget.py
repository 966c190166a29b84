"""The time budget of a whole ``forgeml train``: the search, and everything after it.

A time budget covers the command, not only the search: after the search come the
winner's refit on the training and validation rows, calibration, evaluation on the test
rows, importance, the monitoring reference and registration. :class:`TimeBudget` keeps
time for them. The search ends when what is left of the budget is the *reserve*:

* the refit, estimated from the measured cost of the best trial so far, scaled by how many
  more rows (and, for boosted trees, rounds) the refit has: ``seconds x (rows ratio)²``,
  times :data:`REFIT_MARGIN`;
* the steps after it, :data:`AFTER_SHARE` of the budget and at least :data:`AFTER_MIN_S`,
  times how much slower than its own CPU time the command has run so far (a loaded
  machine stretches every step; measured, between 1 and :data:`MAX_SLOWDOWN`).

The reserve never takes more than :data:`MAX_RESERVE_SHARE` of the budget: the search
always gets the rest. Before any trial has a score, the first trial's end leaves room for
a refit of a model as costly as it, with as many rounds (:meth:`TimeBudget.first_reserve`):
a first trial that runs into that end is cut, and its model can still be refitted.
The steps after the search respect the same end: the refit stops
adding rounds at :meth:`TimeBudget.refit_deadline` (or is skipped when its estimate does
not fit, and the search's model is kept), and permutation importance uses fewer rows, or
is skipped, to finish by :attr:`TimeBudget.end`.

>>> b = TimeBudget(began=100.0, seconds=60.0)
>>> b.end, b.after_reserve()
(160.0, 3.0)
>>> round(b.refit_estimate(4.0, train_rows=6_000, fitted_rows=8_000), 2)
7.11
>>> round(b.reserve(4.0, train_rows=6_000, fitted_rows=8_000), 2)
11.53
>>> b.reserve(100.0, train_rows=6_000, fitted_rows=8_000)  # capped: the search keeps half
30.0
>>> TimeBudget(began=0.0, seconds=None).end is None
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = [
    "AFTER_MIN_S",
    "AFTER_SHARE",
    "MAX_RESERVE_SHARE",
    "MAX_SLOWDOWN",
    "REFIT_MARGIN",
    "TimeBudget",
]

AFTER_SHARE = 0.05  # evaluation, importance, monitoring reference, registration
AFTER_MIN_S = 2.0
REFIT_MARGIN = 1.2  # kept in the search's reserve, on top of the refit's estimate
MAX_RESERVE_SHARE = 0.5
MAX_SLOWDOWN = 4.0


@dataclass(frozen=True)
class TimeBudget:
    """A command's time budget: ``seconds`` from ``began`` (monotonic), None for none."""

    began: float
    seconds: float | None
    cpu_began: float | None = None  # time.process_time() at ``began``; None: not measured

    @classmethod
    def starting_now(cls, seconds: float | None) -> TimeBudget:
        return cls(time.monotonic(), seconds, time.process_time())

    def slowdown(self) -> float:
        """Wall time over this process's CPU time since ``began``, from 1 to MAX_SLOWDOWN:
        how much a loaded machine stretches work that runs on one thread."""
        if self.cpu_began is None:
            return 1.0
        wall = time.monotonic() - self.began
        cpu = time.process_time() - self.cpu_began
        if wall < 1.0 or cpu <= 0:
            return 1.0
        return min(MAX_SLOWDOWN, max(1.0, wall / cpu))

    @property
    def end(self) -> float | None:
        """When the whole command should be done (None: no time budget)."""
        return None if self.seconds is None else self.began + self.seconds

    def left(self) -> float | None:
        """Seconds left until :attr:`end` (None: no time budget)."""
        end = self.end
        return None if end is None else end - time.monotonic()

    def after_reserve(self) -> float:
        """Seconds kept for the steps after the refit."""
        if self.seconds is None:
            return 0.0
        return max(AFTER_MIN_S, AFTER_SHARE * self.seconds) * self.slowdown()

    def refit_estimate(self, trial_seconds: float, *, train_rows: int, fitted_rows: int) -> float:
        """Seconds the refit of a model whose search trial took ``trial_seconds`` needs."""
        ratio = fitted_rows / max(1, train_rows)
        return trial_seconds * ratio * ratio

    def reserve(self, trial_seconds: float, *, train_rows: int, fitted_rows: int) -> float:
        """Seconds to leave after the search, given the best trial's cost so far."""
        if self.seconds is None:
            return 0.0
        wanted = self.after_reserve() + REFIT_MARGIN * self.refit_estimate(
            trial_seconds, train_rows=train_rows, fitted_rows=fitted_rows
        )
        return min(wanted, MAX_RESERVE_SHARE * self.seconds)

    def first_reserve(self, *, train_rows: int, fitted_rows: int) -> float:
        """Seconds to leave after a trial that starts now, before any trial has a score:
        the later steps, and a refit of the same rounds on ``fitted_rows`` rows
        (``fitted_rows / train_rows`` times the trial's cost) of a trial that runs to its end.

        >>> b = TimeBudget(began=time.monotonic(), seconds=30.0)
        >>> round(b.first_reserve(train_rows=6_000, fitted_rows=8_000))
        18
        """
        left = self.left()
        if left is None:
            return 0.0
        after = self.after_reserve()
        ratio = fitted_rows / max(1, train_rows)
        return after + max(0.0, left - after) * ratio / (1.0 + ratio)

    def search_seconds(self) -> float | None:
        """Seconds from now that the search may at most run (before its reserve)."""
        left = self.left()
        return None if left is None else max(0.0, left)

    def refit_deadline(self) -> float | None:
        """When the refit must stop adding rounds: the end, less half the later steps'
        reserve (the search's last trial may have run past its end, and a refit skipped for
        want of a second costs more than the later steps running a little late)."""
        end = self.end
        return None if end is None else end - self.after_reserve() / 2
