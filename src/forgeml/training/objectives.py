"""Regression objectives beyond squared error, offered to the search where the target calls
for them.

A target of counts (visits, claims, items: whole numbers from 0, skewed to the right)
has a variance that grows with its mean. Squared error fits it with trees whose leaves
chase the large counts; LightGBM's Poisson objective fits the log of the mean instead, and
usually predicts the mean better, on squared error too. For such a target the search also
tries LightGBM with ``objective: poisson``: its defaults with that objective right after
the defaults (a known-good configuration), and the objective as a choice of its tuned
trials. The search keeps whichever scores better on the validation rows, in the metric
the user chose; a target that is not a count is searched as before.

>>> import numpy as np
>>> count_target(np.array([0.0, 1, 0, 3, 7, 0, 2])), count_target(np.array([0.5, 1.2, 3]))
(True, False)
>>> count_target(np.array([0.0, 1, 0, 1]))  # 0/1 only: a class, not a count
False
>>> count_target(np.array([-1.0, 0, 2, 5]))
False
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["COUNT_OBJECTIVES", "count_target", "with_count_objectives"]

Params = dict[str, Any]
Space = Callable[[Any, str], Params]
# LightGBM's objectives for a count target: squared error (its default) first
COUNT_OBJECTIVES = ("regression", "poisson")


def count_target(y: np.ndarray) -> bool:
    """Whether ``y`` (a regression target) holds counts: whole numbers, none negative,
    some above 1."""
    values = np.asarray(y, dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return False
    return bool(values.min() >= 0 and values.max() > 1 and np.all(values == np.round(values)))


def with_count_objectives(
    space: Space, warm_starts: Sequence[Params], first: Params | None
) -> tuple[Space, list[Params]]:
    """LightGBM's search space with the objective as a choice, and its warm starts (with
    squared error, as before) after the first configuration (``first``, else LightGBM's
    defaults) with the Poisson objective. A configuration given to the search whole, such
    as a paced start, needs ``objective: regression`` added (squared error; the search
    drops it from the trial's parameters, as it is LightGBM's default)."""

    def suggest(trial: Any, task: str) -> Params:
        params = space(trial, task)
        objective = trial.suggest_categorical("objective", list(COUNT_OBJECTIVES))
        if objective != COUNT_OBJECTIVES[0]:
            params["objective"] = objective
        return params

    start = dict(first) if first is not None else dict(_LIGHTGBM_DEFAULTS)
    squared = [{"objective": COUNT_OBJECTIVES[0]} | w for w in warm_starts]
    return suggest, [start | {"objective": "poisson"}, *squared]


# forgeml's LightGBM defaults (see :mod:`forgeml.training.candidates`), as search values
_LIGHTGBM_DEFAULTS: Params = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 1e-6,  # the space's lowest (LightGBM's default is 0)
}
