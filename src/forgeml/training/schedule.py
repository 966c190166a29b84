"""Which candidate the search's next trial tries, so that the budget goes where it pays.

The order is: every candidate's defaults (or the configuration given to start it from,
such as a boosted model paced to the time budget, see :mod:`forgeml.training.pace`);
then each candidate's known-good configurations (its warm starts), leader first; then
tuned trials. Tuned trials share the budget unevenly: the candidate with the best score
so far (the leader) gets :data:`LEADER_SHARE` of it for every :data:`OTHER_SHARE`
another candidate gets, and the next trial goes to the candidate furthest below its
share. The budget is counted in seconds when only time limits the search, and in trials
when a trial cap is set (so that a capped search stays reproducible).

A candidate stops getting trials once it trails: after :data:`MIN_TRIES` scored trials,
when its best loss is more than ``trail`` worse (relatively) than the leader's, or when
its last :data:`PATIENCE` trials have not improved on its own best. ``trail`` narrows with
the number of validation rows (a score on more rows is less noisy), so on large tables the
budget concentrates sooner on the few candidates that matter, typically boosted trees.
The leader never stops. A loss is the score itself for lower-is-better metrics and
``1 - score`` for higher-is-better ones (all of which are at most 1).

>>> s = Schedule(["logistic", "lightgbm"], {"lightgbm": [{"num_leaves": 15}]},
...              higher_is_better=True, by_time=False, valid_rows=10_000)
>>> s.next(), s.record("logistic", 0.80, 1.0)
(('logistic', {}), None)
>>> s.next(), s.record("lightgbm", 0.90, 1.0)
(('lightgbm', {}), None)
>>> s.next(), s.record("lightgbm", 0.91, 1.0)
(('lightgbm', {'num_leaves': 15}), None)
>>> s.next()  # the leader has spent 2 of its share 1, logistic 1 of its share 0.3
('lightgbm', None)
>>> s.record("lightgbm", 0.90, 1.0); s.record("lightgbm", 0.90, 1.0); s.next()
('logistic', None)
>>> s.record("logistic", 0.81, 1.0); s.stopped()  # loss 0.19 vs the leader's 0.09
['logistic']
>>> s.next()
('lightgbm', None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEADER_SHARE", "MIN_TRIES", "OTHER_SHARE", "PATIENCE", "Schedule", "trail_for"]

Params = dict[str, Any]
LEADER_SHARE = 1.0
OTHER_SHARE = 0.3
MIN_TRIES = 2  # scored trials before a candidate can be judged to trail
PATIENCE = 8  # trials without improving its own best after which a non-leader stops


def trail_for(valid_rows: int | None) -> float:
    """How much relatively worse than the leader's loss a candidate may be and go on.

    Three standard errors of a score on ``valid_rows`` rows (about 1/sqrt(n) relative), at
    least 2%.

    >>> trail_for(1_000), trail_for(100_000), trail_for(None)
    (0.0949, 0.02, 0.05)
    """
    if not valid_rows:
        return 0.05
    return round(max(0.02, 3 / math.sqrt(valid_rows)), 4)


@dataclass
class _Record:
    name: str
    pending: list[Params]  # defaults ({}) or the start, then warm starts, not tried yet
    first: bool = True  # the first of pending (defaults or start) not tried yet
    spent: float = 0.0
    tries: int = 0  # scored trials
    since_best: int = 0
    best_loss: float = math.inf
    stopped: bool = False
    order: int = 0
    history: list[float] = field(default_factory=list)


class Schedule:
    """Chooses each trial's candidate (and fixed configuration, if any)."""

    def __init__(
        self,
        names: Sequence[str],
        warm_starts: Mapping[str, Sequence[Params]],
        *,
        higher_is_better: bool,
        by_time: bool,
        valid_rows: int | None = None,
        starts: Mapping[str, Params] | None = None,
    ) -> None:
        self.higher_is_better = higher_is_better
        self.by_time = by_time
        self.trail = trail_for(valid_rows)
        self._records = {
            n: _Record(
                n,
                [dict((starts or {}).get(n, {})), *[dict(p) for p in warm_starts.get(n, ())]],
                order=i,
            )
            for i, n in enumerate(names)
        }

    def next(self) -> tuple[str, Params | None]:
        """The next trial's candidate and its fixed configuration (None: the sampler's)."""
        records = list(self._records.values())
        defaults = [r for r in records if r.first]
        if defaults:
            first = min(defaults, key=lambda r: r.order)
            first.first = False
            return first.name, first.pending.pop(0)
        warm = [r for r in records if r.pending and not r.stopped]
        if warm:
            first = min(warm, key=lambda r: (r.best_loss, r.order))
            return first.name, first.pending.pop(0)
        leader = self._leader()
        active = [r for r in records if not r.stopped] or [leader]
        chosen = min(
            active,
            key=lambda r: (r.spent / (LEADER_SHARE if r is leader else OTHER_SHARE), r.order),
        )
        return chosen.name, None

    def record(self, name: str, score: float | None, seconds: float) -> None:
        """What a trial of ``name`` scored (None: not scored) and cost."""
        record = self._records[name]
        record.spent += seconds if self.by_time else 1.0
        if score is None or not math.isfinite(score):
            record.since_best += 1
        else:
            loss = (1.0 - score) if self.higher_is_better else score
            record.tries += 1
            record.history.append(loss)
            if loss < record.best_loss:
                record.best_loss, record.since_best = loss, 0
            else:
                record.since_best += 1
        self._judge()

    def stopped(self) -> list[str]:
        """The candidates that get no more tuned trials."""
        return [r.name for r in self._records.values() if r.stopped]

    def _leader(self) -> _Record:
        return min(self._records.values(), key=lambda r: (r.best_loss, r.order))

    def _judge(self) -> None:
        leader = self._leader()
        for r in self._records.values():
            if r is leader or r.stopped or not math.isfinite(leader.best_loss):
                continue
            gap = _relative_gap(r.best_loss, leader.best_loss)
            trails = r.tries >= MIN_TRIES and gap > self.trail
            if trails or r.since_best >= PATIENCE:
                r.stopped = True


def _relative_gap(loss: float, best: float) -> float:
    if not math.isfinite(loss):
        return math.inf
    if best <= 1e-12:
        return loss - best
    return (loss - best) / best
