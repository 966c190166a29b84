"""Boosted trees that stop adding trees when the search's time budget runs out.

A deadline is a :func:`time.monotonic` time, or None for no limit. LightGBM stops through
its early stopping callback (:mod:`forgeml.training.lgbm`); XGBoost through the callback made
by :func:`xgboost_deadline`; scikit-learn's HistGradientBoosting, which takes no callbacks,
is fitted in steps with ``warm_start`` by :func:`fit_hgb_until`, and a scikit-learn forest
(``extra_trees``) is grown in steps of trees by :func:`fit_forest_until`. Each keeps the trees it
has and needs at least one step (one tree, or HistGradientBoosting's first step): a model
that misses its deadline is a smaller model, never no model.

>>> import numpy as np
>>> from sklearn.ensemble import HistGradientBoostingRegressor
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2000, 3)); y = x[:, 0] + rng.normal(size=2000)
>>> model = HistGradientBoostingRegressor(max_iter=200, early_stopping=False)
>>> fit_hgb_until(model, x, y, deadline=time.monotonic())  # already passed: cut short
True
>>> model.n_iter_, model.get_params()["max_iter"], model.get_params()["warm_start"]
(25, 200, False)
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

__all__ = [
    "FOREST_FIRST_STEP",
    "HGB_FIRST_STEP",
    "fit_forest_until",
    "fit_hgb_until",
    "passed",
    "xgboost_deadline",
]

# HistGradientBoosting's first step, in iterations; the rest is sized by the time it took.
HGB_FIRST_STEP = 25
FOREST_FIRST_STEP = 25  # a forest's trees grown before the deadline is first checked


def passed(deadline: float | None) -> bool:
    """Whether ``deadline`` (a monotonic time, or None for none) has passed."""
    return deadline is not None and time.monotonic() >= deadline


def xgboost_deadline(deadline: float) -> Any:
    """An XGBoost ``TrainingCallback`` that ends training once ``deadline`` has passed.

    It stops before the next round rather than after the current one, so that the early
    stopping callback, which XGBoost runs after the user's, has seen every round built:
    ``best_iteration`` is then the best of all the trees the model has. ``stopped`` says
    whether it ended training.
    """
    from xgboost.callback import TrainingCallback

    class _Deadline(TrainingCallback):
        def __init__(self) -> None:
            super().__init__()
            self.rounds = 0
            self.stopped = False

        def before_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if self.rounds and passed(deadline):
                self.stopped = True
            return self.stopped

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            self.rounds += 1
            return False

    return _Deadline()


def fit_hgb_until(
    estimator: Any,
    x: np.ndarray,
    y: np.ndarray,
    deadline: float,
    *,
    first_step: int = HGB_FIRST_STEP,
) -> bool:
    """Fit a HistGradientBoosting estimator in ``warm_start`` steps until ``deadline``.

    Returns True when the deadline ended fitting before ``max_iter`` iterations and before
    the estimator's own early stopping. The first step is ``first_step`` iterations; each
    later one is as many as the time per iteration so far leaves room for before the
    deadline (all that are left when there is room for them), so without time pressure
    there are two steps. Warm starting re-bins the same rows with the same seed and keeps
    the validation scores, so the model is the one a single fit gives; the estimator's
    ``max_iter`` and ``warm_start`` are set back to what they were.
    """
    total, warm = estimator.max_iter, estimator.warm_start
    if total <= first_step:
        estimator.fit(x, y)
        return False
    began = time.monotonic()
    try:
        estimator.set_params(warm_start=True, max_iter=first_step)
        estimator.fit(x, y)
        while estimator.n_iter_ == estimator.max_iter < total and not _would_stop(estimator):
            now = time.monotonic()
            per_iteration = max(now - began, 1e-9) / estimator.n_iter_  # with the overheads
            room = int((deadline - now) / per_iteration)
            if room < 1:
                return True
            estimator.set_params(max_iter=min(total, estimator.n_iter_ + room))
            estimator.fit(x, y)
        return False
    finally:
        estimator.set_params(warm_start=warm, max_iter=total)


def _would_stop(estimator: Any) -> bool:
    """Whether the estimator's early stopping would end fitting after its last iteration.

    scikit-learn checks after each iteration whether none of the last ``n_iter_no_change``
    scores improves on the one before them by more than ``tol``; at the end of a step that
    check has not ended fitting, and the next step must not build past it.
    """
    if not getattr(estimator, "do_early_stopping_", False):
        return False
    scores = estimator.validation_score_
    if len(scores) == 0:
        scores = estimator.train_score_
    reference = estimator.n_iter_no_change + 1
    if len(scores) < reference:
        return False
    return not any(s > scores[-reference] + estimator.tol for s in scores[-reference + 1 :])


def fit_forest_until(
    estimator: Any,
    x: np.ndarray,
    y: np.ndarray,
    deadline: float,
    *,
    first_step: int = FOREST_FIRST_STEP,
) -> bool:
    """Grow a scikit-learn forest in ``warm_start`` steps until ``deadline``.

    Returns True when the deadline ended fitting before ``n_estimators`` trees: the model
    then has the trees grown so far, and its ``n_estimators`` says how many. The first
    step is ``first_step`` trees; each later one is as many as the time per tree so far
    leaves room for before the deadline (all that are left when there is room), so
    without time pressure there are two steps. Each tree's seed is drawn as a single fit
    draws it, so the forest is the one a single fit grows; ``warm_start`` is set back.

    >>> from sklearn.ensemble import ExtraTreesRegressor
    >>> x = np.arange(200.0).reshape(-1, 2); y = x[:, 0]
    >>> model = ExtraTreesRegressor(n_estimators=100, random_state=0)
    >>> fit_forest_until(model, x, y, deadline=time.monotonic())  # already passed
    True
    >>> len(model.estimators_), model.n_estimators, model.warm_start
    (25, 25, False)
    """
    total, warm = estimator.n_estimators, estimator.warm_start
    if total <= first_step:
        estimator.fit(x, y)
        return False
    began = time.monotonic()
    stopped = False
    try:
        estimator.set_params(warm_start=True, n_estimators=first_step)
        with warnings.catch_warnings():
            # Warm starting refits on the same rows, so "balanced" weights stay the same.
            warnings.filterwarnings("ignore", "class_weight presets", UserWarning)
            estimator.fit(x, y)
            while (grown := len(estimator.estimators_)) < total:
                now = time.monotonic()
                per_tree = max(now - began, 1e-9) / grown
                room = int((deadline - now) / per_tree)
                if room < 1:
                    stopped = True
                    break
                estimator.set_params(n_estimators=min(total, grown + room))
                estimator.fit(x, y)
        return stopped
    finally:
        grown = len(getattr(estimator, "estimators_", []))
        estimator.set_params(warm_start=warm, n_estimators=grown or total)
