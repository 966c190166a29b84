"""LightGBM with early stopping that also hands back its validation predictions.

LightGBM keeps the validation rows' scores up to date as it adds trees (that is how it
evaluates them for early stopping), so predicting them again after training repeats work
that grows with the model. :func:`fit_with_validation_scores` takes them from the booster
when early stopping ends training, through LightGBM's public callback and evaluation API:
exactly the model's predictions when the best iteration is the last one, and otherwise
the current scores minus the trees after the best iteration (equal to a fresh prediction
to about 1e-14).

Given a deadline (a :func:`time.monotonic` time), training also ends once it has passed,
in the same way: at the best iteration so far, with its validation scores.

>>> import numpy as np, lightgbm
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(600, 3)); y = (x[:, 0] + rng.normal(size=600) > 0).astype(int)
>>> model = lightgbm.LGBMClassifier(n_estimators=300, verbose=-1, deterministic=True)
>>> fit = fit_with_validation_scores(model, x[:400], y[:400], x[400:], y[400:])
>>> bool(np.allclose(fit.scores, model.predict_proba(x[400:])[:, 1], rtol=0, atol=1e-12))
True
>>> fit.stopped
False
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import numpy as np

from forgeml.training.deadline import passed

__all__ = ["EARLY_STOPPING_ROUNDS", "LightGBMFit", "fit_with_validation_scores"]

# Boosted trees stop adding trees when validation loss has not improved for this many rounds.
EARLY_STOPPING_ROUNDS = 50
# Objectives whose output this module can recompute from raw scores.
_OUTPUTS = ("binary", "multiclass", "regression")


class LightGBMFit(NamedTuple):
    """What :func:`fit_with_validation_scores` found out while fitting."""

    best_iteration: int | None  # 1-based; None when unknown
    scores: np.ndarray | None  # the validation rows' predictions at it; None: predict them
    stopped: bool  # the deadline ended training


def fit_with_validation_scores(
    estimator: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    deadline: float | None = None,
    patience: int = EARLY_STOPPING_ROUNDS,
) -> LightGBMFit:
    """Fit a LightGBM scikit-learn estimator with early stopping on ``(x_valid, y_valid)``.

    Returns the best iteration, the validation rows' predictions at it, shaped like
    ``predict_proba(x_valid)[:, 1]`` (binary), ``predict_proba(x_valid)`` (multiclass) or
    ``predict(x_valid)`` (regression), or None when they could not be taken from the
    booster (the caller predicts instead), and whether the deadline ended training: once
    ``deadline`` has passed, training ends after the current tree, and the model keeps and
    predicts with the trees up to the best iteration so far. ``patience`` is the rounds
    without improvement after which early stopping ends training.
    """
    keep = _KeepValidationScores(x_valid, deadline, patience)
    if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM >= 4.7
        estimator.fit(x, y, eval_X=(x_valid,), eval_y=(y_valid,), callbacks=[keep])
    else:
        estimator.fit(x, y, eval_set=[(x_valid, y_valid)], callbacks=[keep])
    best = int(estimator.best_iteration_ or 0) or None
    scores = keep.scores
    if scores is not None and (best is None or keep.best_iteration != best):
        scores = None  # not the iteration the fitted model predicts with
    return LightGBMFit(best, scores, keep.stopped)


class _KeepValidationScores:
    """LightGBM's early stopping, keeping the validation scores of the best iteration.

    Past the deadline it ends training the way early stopping does, raising LightGBM's
    ``EarlyStopException`` with the best iteration so far on the first validation metric
    (the one early stopping watches: the models here evaluate one metric on one set).
    """

    def __init__(
        self,
        x_valid: np.ndarray,
        deadline: float | None = None,
        patience: int = EARLY_STOPPING_ROUNDS,
    ) -> None:
        import lightgbm

        # Where LightGBM's own early stopping runs: after the evaluation is recorded. An
        # instance attribute, as LightGBM gives callbacks without one in their __dict__ an
        # order before every built-in callback.
        self.order = 30
        self.before_iteration = False
        self._stop = lightgbm.early_stopping(patience, verbose=False)
        self._x_valid = x_valid
        self._deadline = deadline
        self._best: tuple[int, float, list[Any]] | None = None  # iteration, value, results
        self.scores: np.ndarray | None = None
        self.best_iteration: int | None = None
        self.stopped = False

    def __call__(self, env: Any) -> None:
        from lightgbm.callback import EarlyStopException

        try:
            self._track(env)
            self._stop(env)
            if self._best is not None and passed(self._deadline):
                self.stopped = True
                raise EarlyStopException(self._best[0], self._best[2])
        except EarlyStopException as stop:
            try:
                self.scores = _scores_at(env, stop.best_iteration, self._x_valid)
                self.best_iteration = stop.best_iteration + 1
            except Exception:  # a failed capture only costs a prediction afterwards
                self.scores = None
            raise

    def _track(self, env: Any) -> None:
        """Remember the best iteration so far, as LightGBM's early stopping judges it."""
        results = env.evaluation_result_list
        if not results:
            return
        value, higher_is_better = float(results[0][2]), bool(results[0][3])
        if self._best is None or (
            value > self._best[1] if higher_is_better else value < self._best[1]
        ):
            self._best = (env.iteration, value, list(results))


def _scores_at(env: Any, best: int, x_valid: np.ndarray) -> np.ndarray | None:
    """The validation predictions after iteration ``best`` (0-based), from the booster."""
    objective = env.params.get("objective")
    if objective not in _OUTPUTS:
        return None
    kept: list[np.ndarray] = []

    def keep(predictions: np.ndarray, _data: Any) -> tuple[str, float, bool]:
        kept.append(np.array(predictions, dtype=np.float64))
        return "kept", 0.0, False

    booster = env.model
    booster.eval_valid(feval=keep)
    if len(kept) != 1:
        return None
    now = kept[0]
    extra = env.iteration - best  # trees grown after the best iteration
    if extra == 0:
        return now
    if best + 1 <= extra:  # fewer trees to predict from the start
        raw = booster.predict(x_valid, num_iteration=best + 1, raw_score=True)
    else:
        tail = booster.predict(
            x_valid, start_iteration=best + 1, num_iteration=extra, raw_score=True
        )
        raw = _raw(objective, now) - tail
    return _output(objective, np.asarray(raw, dtype=np.float64))


def _raw(objective: str, output: np.ndarray) -> np.ndarray:
    """Raw scores from outputs (for multiclass up to a per-row constant, which softmax drops)."""
    with np.errstate(divide="ignore"):  # a saturated 0 or 1 becomes an infinite raw score
        if objective == "binary":
            return np.asarray(np.log(output) - np.log1p(-output))
        if objective == "multiclass":
            return np.asarray(np.log(output))
    return output


def _output(objective: str, raw: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        if objective == "binary":
            return np.asarray(1.0 / (1.0 + np.exp(-raw)))
        if objective == "multiclass":
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))
    return raw
