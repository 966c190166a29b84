"""The time budget of a whole ``forgeml train``: the search, and everything after it.

A time budget covers the command, not only the search: after the search come the
winner's refit on the training and validation rows, calibration, evaluation on the test
rows, importance, the monitoring reference and registration. :class:`TimeBudget` keeps
time for them. The search ends when what is left of the budget is the *reserve*:

* the refit, estimated from the measured cost of the best trial so far, scaled by how many
  more rows (and, for boosted trees, rounds) the refit has: ``seconds x (rows ratio)²``,
  times :data:`REFIT_MARGIN`;
* the steps after it: :data:`AFTER_SHARE` of the budget and at least :data:`AFTER_MIN_S`
  for storing, registering and the card, times how much slower than its own CPU time the
  command has run so far (a loaded machine stretches every step; measured, between 1 and
  :data:`MAX_SLOWDOWN`); plus scoring the rows those steps score (the test rows and the
  monitoring reference's, :attr:`TimeBudget.scored_rows`) with the model, at the cost per
  row measured on the search's best model (wall time, so the machine's load is in it),
  grown by the refit's extra rounds, times :data:`SCORING_MARGIN`.

The refit's part of the reserve never takes it past :data:`MAX_RESERVE_SHARE` of the
budget: the search always gets the rest, less the later steps. Every trial's end leaves
room for a refit of a model as costly as it, with as many rounds
(:meth:`TimeBudget.first_reserve`): a trial that runs into that end is cut, and its model
can still be refitted if it wins.
The steps after the search respect the same end: the refit stops
adding rounds at :meth:`TimeBudget.refit_deadline` (or is skipped when its estimate does
not fit, and the search's model is kept), and permutation importance uses fewer rows, or
is skipped, to finish by :attr:`TimeBudget.end`.

>>> b = TimeBudget(began=100.0, seconds=60.0)
>>> b.end, b.after_reserve()
(160.0, 3.0)
>>> scored = TimeBudget(began=100.0, seconds=60.0, scored_rows=10_000)
>>> round(scored.after_reserve(row_seconds=0.0005), 2)  # 5 s of scoring, with its margin
9.25
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
    "SCORING_MARGIN",
    "TimeBudget",
]

AFTER_SHARE = 0.05  # evaluation, importance, monitoring reference, registration
AFTER_MIN_S = 2.0
REFIT_MARGIN = 1.2  # kept in the search's reserve, on top of the refit's estimate
MAX_RESERVE_SHARE = 0.5
MAX_SLOWDOWN = 4.0
SCORING_MARGIN = 1.25  # kept on top of the later steps' scoring, measured on a small sample


@dataclass(frozen=True)
class TimeBudget:
    """A command's time budget: ``seconds`` from ``began`` (monotonic), None for none."""

    began: float
    seconds: float | None
    cpu_began: float | None = None  # time.process_time() at ``began``; None: not measured
    scored_rows: int = 0  # rows the steps after the refit score with the model

    @classmethod
    def starting_now(cls, seconds: float | None, scored_rows: int = 0) -> TimeBudget:
        return cls(time.monotonic(), seconds, time.process_time(), scored_rows)

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

    def after_reserve(self, row_seconds: float = 0.0) -> float:
        """Seconds kept for the steps after the refit, with a model that scores a row in
        ``row_seconds`` (0: not measured)."""
        if self.seconds is None:
            return 0.0
        return self._fixed_steps() + self.scoring(row_seconds)

    def _fixed_steps(self) -> float:
        """Storing, registering and the card: a share of the budget, stretched by load."""
        return max(AFTER_MIN_S, AFTER_SHARE * (self.seconds or 0.0)) * self.slowdown()

    def scoring(self, row_seconds: float) -> float:
        """Seconds the later steps take to score :attr:`scored_rows` rows at ``row_seconds``
        a row, with the margin."""
        return SCORING_MARGIN * max(0.0, row_seconds) * self.scored_rows

    def refit_estimate(self, trial_seconds: float, *, train_rows: int, fitted_rows: int) -> float:
        """Seconds the refit of a model whose search trial took ``trial_seconds`` needs."""
        ratio = fitted_rows / max(1, train_rows)
        return trial_seconds * ratio * ratio

    def reserve(
        self,
        trial_seconds: float,
        *,
        train_rows: int,
        fitted_rows: int,
        row_seconds: float = 0.0,
    ) -> float:
        """Seconds to leave after the search, given the best trial's cost so far (its fit,
        ``trial_seconds``, and its scoring, ``row_seconds`` a row)."""
        if self.seconds is None:
            return 0.0
        after = self.after_reserve(row_seconds * fitted_rows / max(1, train_rows))
        wanted = after + REFIT_MARGIN * self.refit_estimate(
            trial_seconds, train_rows=train_rows, fitted_rows=fitted_rows
        )
        return min(wanted, max(after, MAX_RESERVE_SHARE * self.seconds))

    def first_reserve(
        self, *, train_rows: int, fitted_rows: int, row_seconds: float = 0.0
    ) -> float:
        """Seconds to leave after a trial that starts now: the later steps (for a model
        that scores a row in ``row_seconds``, grown by the refit's rounds), and a refit of
        the same rounds on ``fitted_rows`` rows (``fitted_rows / train_rows`` times the
        trial's cost) of a trial that runs to its end.

        >>> b = TimeBudget(began=time.monotonic(), seconds=30.0)
        >>> round(b.first_reserve(train_rows=6_000, fitted_rows=8_000))
        18
        """
        left = self.left()
        if left is None:
            return 0.0
        ratio = fitted_rows / max(1, train_rows)
        after = self.after_reserve(row_seconds * ratio)
        return after + max(0.0, left - after) * ratio / (1.0 + ratio)

    def trial_reserve(
        self,
        trial_seconds: float | None,
        *,
        train_rows: int,
        fitted_rows: int,
        row_seconds: float,
        own_refit: bool = True,
    ) -> float:
        """The reserve a trial that starts now is handed (its end is the budget's end less
        it): that of the best trial so far (``trial_seconds`` and ``row_seconds``; None:
        no trial has a score yet), and room for the new trial's own refit should it win.

        ``own_refit=False`` leaves the latter out once a trial has a score: a
        cross-validated trial costs several fits of which the refit repeats one, and one
        cut between its folds is not compared at all, so cutting it early only wastes it.
        """
        own = self.first_reserve(
            train_rows=train_rows, fitted_rows=fitted_rows, row_seconds=row_seconds
        )
        if trial_seconds is None:
            return own
        best = self.reserve(
            trial_seconds, train_rows=train_rows, fitted_rows=fitted_rows, row_seconds=row_seconds
        )
        return max(best, own) if own_refit else best

    def search_seconds(self) -> float | None:
        """Seconds from now that the search may at most run (before its reserve)."""
        left = self.left()
        return None if left is None else max(0.0, left)

    def refit_deadline(self, row_seconds: float = 0.0) -> float | None:
        """When the refit must stop adding rounds, for a refitted model that scores a row in
        ``row_seconds``: the end, less its scoring and half the other later steps' reserve
        (the search's last trial may have run past its end, and a refit skipped for want
        of a second costs more than the fixed steps running a little late)."""
        end = self.end
        if end is None:
            return None
        return end - self._fixed_steps() / 2 - self.scoring(row_seconds)
