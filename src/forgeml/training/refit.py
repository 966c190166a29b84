"""The winner refitted on the training and validation rows together.

The search scores each configuration on validation rows it was not fitted on; once the
winner is chosen, those rows are worth more as training data. The refit uses the
configuration the search chose, and for boosted trees the number of rounds early stopping
found on the validation rows, scaled by how many more rows the refit has (more rows
support more rounds before they overfit), since there are no rows left to stop on. The
test rows stay out of it: they are for the report and the gate.

>>> scaled_rounds(120, train_rows=6_000, fitted_rows=8_000)
160
>>> scaled_rounds(1, train_rows=10, fitted_rows=10)
1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from forgeml.training.candidates import Candidate, Fitted, balanced_weights
from forgeml.training.deadline import fit_forest_until, fit_hgb_until, passed, xgboost_deadline
from forgeml.training.mlp import refit_mlp

if TYPE_CHECKING:
    from forgeml.features import FeaturePipeline

__all__ = ["refit", "refit_rounds", "rounds_of", "scaled_rounds"]


def scaled_rounds(rounds: int, *, train_rows: int, fitted_rows: int) -> int:
    """``rounds`` boosting rounds, found on ``train_rows`` rows, for ``fitted_rows`` rows."""
    return max(1, round(rounds * fitted_rows / max(1, train_rows)))


def refit_rounds(
    cand: Candidate, fitted: Fitted, *, train_rows: int, fitted_rows: int
) -> int | None:
    """The rounds a refit on ``fitted_rows`` rows gets (None: not a boosted model)."""
    rounds = rounds_of(cand, fitted)
    if rounds is None:
        return None
    return scaled_rounds(rounds, train_rows=train_rows, fitted_rows=fitted_rows)


def rounds_of(cand: Candidate, fitted: Fitted) -> int | None:
    """The boosting rounds of the search's fitted winner (None: not a boosted model)."""
    if cand.name in ("lightgbm", "xgboost"):
        return fitted.best_iteration
    if cand.name == "hist_gradient_boosting":
        return int(fitted.estimator.n_iter_)
    return None


def refit(
    cand: Candidate,
    fitted: Fitted,
    *,
    task: str,
    seed: int,
    class_weight: Any,
    x: np.ndarray,
    y: np.ndarray,
    train_rows: int,
    deadline: float | None,
    rounds: int | None = None,
    pipeline: FeaturePipeline | None = None,
) -> Fitted:
    """``cand`` with the search's winning ``fitted.params``, fitted on all of ``(x, y)``.

    ``train_rows`` is how many rows the search's model was fitted on. Boosted trees get
    the rounds the search's model stopped at, scaled to ``len(x)`` rows, and no early
    stopping; past ``deadline`` they stop adding rounds, as in the search (a smaller
    model, never no model). ``rounds`` sets their rounds instead (what the time left
    affords). The result's ``best_iteration`` is the rounds it has. ``mlp`` trains for the
    epochs the search's network stopped at (``pipeline`` made ``x``).
    """
    if cand.name == "mlp":
        return refit_mlp(
            fitted,
            task=task,
            seed=seed,
            class_weight=class_weight,
            x=x,
            y=y,
            deadline=deadline,
            pipeline=pipeline,
        )
    params = dict(fitted.params)
    if rounds is None:
        rounds = refit_rounds(cand, fitted, train_rows=train_rows, fitted_rows=len(x))
    if cand.name == "lightgbm" and rounds is not None:
        estimator = cand.build(task, params | {"n_estimators": rounds}, seed, class_weight)
        clock = _LightGBMDeadline(deadline)
        estimator.fit(x, y, callbacks=[clock])
        built = int(estimator.booster_.current_iteration())
        return Fitted(estimator, params, built, stopped=clock.stopped)
    if cand.name == "xgboost" and rounds is not None:
        estimator = cand.build(task, params | {"n_estimators": rounds}, seed, class_weight)
        xgb_clock = xgboost_deadline(deadline) if deadline is not None else None
        estimator.set_params(callbacks=[xgb_clock] if xgb_clock else None)
        weights = balanced_weights(y) if class_weight == "balanced" else None
        try:
            estimator.fit(x, y, sample_weight=weights, verbose=False)
        finally:
            estimator.callbacks = None  # the model does not keep the clock
        built = int(estimator.get_booster().num_boosted_rounds())
        return Fitted(estimator, params, built, stopped=bool(xgb_clock and xgb_clock.stopped))
    estimator = cand.build(task, params, seed, class_weight)
    if cand.name == "hist_gradient_boosting" and rounds is not None:
        estimator.set_params(max_iter=rounds, early_stopping=False)
        if deadline is not None:
            stopped = fit_hgb_until(estimator, x, y, deadline)
            return Fitted(estimator, params, int(estimator.n_iter_), stopped=stopped)
        estimator.fit(x, y)
        return Fitted(estimator, params, int(estimator.n_iter_))
    if cand.name == "extra_trees" and deadline is not None:
        return Fitted(estimator, params, stopped=fit_forest_until(estimator, x, y, deadline))
    estimator.fit(x, y)
    return Fitted(estimator, params)


class _LightGBMDeadline:
    """A LightGBM callback that ends training, keeping every tree built, once ``deadline``
    has passed (there is no validation set to stop on in a refit)."""

    def __init__(self, deadline: float | None) -> None:
        self.order = 30
        self.before_iteration = False
        self.deadline = deadline
        self.stopped = False

    def __call__(self, env: Any) -> None:
        from lightgbm.callback import EarlyStopException

        if passed(self.deadline) and env.iteration + 1 < env.end_iteration:
            self.stopped = True
            raise EarlyStopException(env.iteration, [])
