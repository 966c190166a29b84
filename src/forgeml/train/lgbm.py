"""LightGBM with early stopping that also hands back its validation predictions.

LightGBM keeps the validation rows' scores up to date as it adds trees (that is how it
evaluates them for early stopping), so predicting them again after training repeats work
that grows with the model. :func:`fit_with_validation_scores` takes them from the booster
when early stopping ends training, through LightGBM's public callback and evaluation API:
exactly the model's predictions when the best iteration is the last one, and otherwise
the current scores minus the trees after the best iteration (equal to a fresh prediction
to about 1e-14).

>>> import numpy as np, lightgbm
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(600, 3)); y = (x[:, 0] + rng.normal(size=600) > 0).astype(int)
>>> model = lightgbm.LGBMClassifier(n_estimators=300, verbose=-1, deterministic=True)
>>> best, scores = fit_with_validation_scores(model, x[:400], y[:400], x[400:], y[400:])
>>> bool(np.allclose(scores, model.predict_proba(x[400:])[:, 1], rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

__all__ = ["EARLY_STOPPING_ROUNDS", "fit_with_validation_scores"]

# Boosted trees stop adding trees when validation loss has not improved for this many rounds.
EARLY_STOPPING_ROUNDS = 50
# Objectives whose output this module can recompute from raw scores.
_OUTPUTS = ("binary", "multiclass", "regression")


def fit_with_validation_scores(
    estimator: Any, x: np.ndarray, y: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
) -> tuple[int | None, np.ndarray | None]:
    """Fit a LightGBM scikit-learn estimator with early stopping on ``(x_valid, y_valid)``.

    Returns the best iteration (1-based; None when unknown) and the validation rows'
    predictions at it, shaped like ``predict_proba(x_valid)[:, 1]`` (binary),
    ``predict_proba(x_valid)`` (multiclass) or ``predict(x_valid)`` (regression); None when
    they could not be taken from the booster, so the caller predicts instead.
    """
    keep = _KeepValidationScores(x_valid)
    if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM >= 4.7
        estimator.fit(x, y, eval_X=(x_valid,), eval_y=(y_valid,), callbacks=[keep])
    else:
        estimator.fit(x, y, eval_set=[(x_valid, y_valid)], callbacks=[keep])
    best = int(estimator.best_iteration_ or 0) or None
    scores = keep.scores
    if scores is not None and (best is None or keep.best_iteration != best):
        scores = None  # not the iteration the fitted model predicts with
    return best, scores


class _KeepValidationScores:
    """LightGBM's early stopping, keeping the validation scores of the best iteration."""

    order = 30  # LightGBM's own early stopping callback runs at this position
    before_iteration = False

    def __init__(self, x_valid: np.ndarray) -> None:
        import lightgbm

        self._stop = lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)
        self._x_valid = x_valid
        self.scores: np.ndarray | None = None
        self.best_iteration: int | None = None

    def __call__(self, env: Any) -> None:
        from lightgbm.callback import EarlyStopException

        try:
            self._stop(env)
        except EarlyStopException as stop:
            try:
                self.scores = _scores_at(env, stop.best_iteration, self._x_valid)
                self.best_iteration = stop.best_iteration + 1
            except Exception:  # a failed capture only costs a prediction afterwards
                self.scores = None
            raise


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
