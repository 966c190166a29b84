"""Probability calibration, kept only when it improves log loss on data it was not fitted on.

The validation set is split in two; each half fits a calibrator that is scored on the
other half. A method is used when its average held-out log loss beats the uncalibrated
probabilities; it is then refitted on the whole validation set.

Binary models calibrate the positive-class probability (``isotonic`` or ``sigmoid``).
Multiclass models calibrate each class's probability one-vs-rest and divide each row by
its sum, so that it adds up to 1 again (``isotonic_ovr`` or ``sigmoid_ovr``).

>>> rng = np.random.default_rng(0)
>>> p = rng.uniform(size=4000); y = (rng.uniform(size=4000) < p ** 3).astype(int)
>>> choose_calibration(y, p, seed=0).method in ("isotonic", "sigmoid")
True
>>> p = rng.uniform(size=4000); y = (rng.uniform(size=4000) < p).astype(int)
>>> choose_calibration(y, p, seed=0) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["METHODS", "Calibration", "apply_calibration", "choose_calibration"]

Method = Literal["isotonic", "sigmoid", "isotonic_ovr", "sigmoid_ovr"]
METHODS: tuple[str, ...] = ("isotonic", "sigmoid", "isotonic_ovr", "sigmoid_ovr")
EPS = 1e-6
# A method must beat the raw probabilities by at least this much log loss to be used.
MIN_GAIN = 1e-3
MIN_ROWS = 200  # fewer validation rows would overfit the calibrator


@dataclass(frozen=True)
class Calibration:
    method: Method
    model: Any  # binary: IsotonicRegression or LogisticRegression (on the logit); _ovr: a list
    gain: float  # held-out log-loss improvement


def apply_calibration(method: str, model: Any, proba: np.ndarray) -> np.ndarray:
    """Calibrated probabilities: a vector for binary models, (rows, classes) for ``_ovr``."""
    if method.endswith("_ovr"):
        base = method.removesuffix("_ovr")
        columns = [_apply(base, m, proba[:, k]) for k, m in enumerate(model)]
        calibrated = np.column_stack(columns)
        return np.asarray(calibrated / calibrated.sum(axis=1, keepdims=True))
    return _apply(method, model, proba)


def choose_calibration(
    y: np.ndarray, proba: np.ndarray, *, seed: int, required: bool = False
) -> Calibration | None:
    """The calibration that improves held-out log loss most, or None.

    ``proba`` is the positive-class probability (binary) or a (rows, classes) matrix. With
    ``required`` the better of the two methods is used even without a gain.
    """
    y = np.asarray(y, dtype=np.int64)
    multiclass = proba.ndim == 2
    classes = proba.shape[1] if multiclass else 2
    if len(y) < MIN_ROWS or len(np.unique(y)) < 2:
        return None  # too little data to calibrate without overfitting
    order = np.random.default_rng(seed).permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2 :])
    if any(len(np.unique(y[half])) < classes for half in halves):
        return None  # a class missing from a half: nothing to fit it on
    raw = float(np.mean([_loss(y[b], proba[b], classes) for b in halves]))
    gains: dict[Method, float] = {}
    names: tuple[Method, ...] = (
        ("isotonic_ovr", "sigmoid_ovr") if multiclass else ("isotonic", "sigmoid")
    )
    for method in names:
        losses = []
        for fit_on, score_on in (halves, halves[::-1]):
            model = _fit(method, y[fit_on], proba[fit_on])
            calibrated = apply_calibration(method, model, proba[score_on])
            losses.append(_loss(y[score_on], calibrated, classes))
        gains[method] = raw - float(np.mean(losses))
    method, gain = max(gains.items(), key=lambda kv: kv[1])
    if gain <= MIN_GAIN and not required:
        return None
    return Calibration(method, _fit(method, y, proba), gain)


def _fit(method: str, y: np.ndarray, proba: np.ndarray) -> Any:
    # scikit-learn is imported to fit a calibrator only: serving applies one without it
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method.endswith("_ovr"):
        base = method.removesuffix("_ovr")
        return [_fit(base, (y == k).astype(np.int64), proba[:, k]) for k in range(proba.shape[1])]
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=EPS, y_max=1 - EPS).fit(proba, y)
    return LogisticRegression(C=1e6, max_iter=1000).fit(_logit(proba), y)


def _apply(method: str, model: Any, proba: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        calibrated: np.ndarray = np.clip(np.asarray(model.predict(proba)), EPS, 1 - EPS)
        return calibrated
    return np.asarray(model.predict_proba(_logit(proba))[:, 1])


def _logit(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba, EPS, 1 - EPS)
    return np.asarray(np.log(p / (1 - p))).reshape(-1, 1)


def _loss(y: np.ndarray, proba: np.ndarray, classes: int) -> float:
    from sklearn.metrics import log_loss

    if proba.ndim == 2:
        clipped = np.clip(proba, EPS, 1.0)
        clipped = clipped / clipped.sum(axis=1, keepdims=True)
        return float(log_loss(y, clipped, labels=list(range(classes))))
    return float(log_loss(y, np.clip(proba, EPS, 1 - EPS), labels=[0, 1]))
