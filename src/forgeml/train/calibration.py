"""Probability calibration, kept only when it improves log loss on data it was not fitted on.

The validation set is split in two; each half fits a calibrator that is scored on the
other half. A method is used when its average held-out log loss beats the uncalibrated
probabilities; it is then refitted on the whole validation set.

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
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

__all__ = ["Calibration", "apply_calibration", "choose_calibration"]

Method = Literal["isotonic", "sigmoid"]
EPS = 1e-6
# A method must beat the raw probabilities by at least this much log loss to be used.
MIN_GAIN = 1e-3


@dataclass(frozen=True)
class Calibration:
    method: Method
    model: Any  # IsotonicRegression or LogisticRegression (on the logit)
    gain: float  # held-out log-loss improvement


def apply_calibration(method: str, model: Any, proba: np.ndarray) -> np.ndarray:
    """Calibrated positive-class probabilities."""
    if method == "isotonic":
        calibrated: np.ndarray = np.clip(np.asarray(model.predict(proba)), EPS, 1 - EPS)
        return calibrated
    return np.asarray(model.predict_proba(_logit(proba))[:, 1])


def choose_calibration(
    y: np.ndarray, proba: np.ndarray, *, seed: int, required: bool = False
) -> Calibration | None:
    """The calibration that improves held-out log loss most, or None.

    With ``required`` the better of the two methods is used even without a gain.
    """
    y = np.asarray(y, dtype=np.int64)
    if len(y) < 200 or len(np.unique(y)) < 2:
        return None  # too little data to calibrate without overfitting
    order = np.random.default_rng(seed).permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2 :])
    raw = float(np.mean([_loss(y[b], proba[b]) for _a, b in (halves, halves[::-1])]))
    gains: dict[Method, float] = {}
    for method in ("isotonic", "sigmoid"):
        losses = []
        for fit_on, score_on in (halves, halves[::-1]):
            if len(np.unique(y[fit_on])) < 2:
                return None
            model = _fit(method, y[fit_on], proba[fit_on])
            losses.append(_loss(y[score_on], apply_calibration(method, model, proba[score_on])))
        gains[method] = raw - float(np.mean(losses))
    method, gain = max(gains.items(), key=lambda kv: kv[1])
    if gain <= MIN_GAIN and not required:
        return None
    return Calibration(method, _fit(method, y, proba), gain)


def _fit(method: str, y: np.ndarray, proba: np.ndarray) -> Any:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=EPS, y_max=1 - EPS).fit(proba, y)
    return LogisticRegression(C=1e6, max_iter=1000).fit(_logit(proba), y)


def _logit(proba: np.ndarray) -> np.ndarray:
    p = np.clip(proba, EPS, 1 - EPS)
    return np.asarray(np.log(p / (1 - p))).reshape(-1, 1)


def _loss(y: np.ndarray, proba: np.ndarray) -> float:
    return float(log_loss(y, np.clip(proba, EPS, 1 - EPS), labels=[0, 1]))
