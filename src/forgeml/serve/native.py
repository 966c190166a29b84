"""Native single-row prediction for boosted trees, used only when verified.

LightGBM's Python ``Booster.predict`` spends most of a one-row call checking and copying
its input. Its C library also offers a prepared single-row call
(``LGBM_BoosterPredictForMatSingleRowFast``) that scores a float64 row in place with one
thread; :class:`LightGBMRow` prepares it once per model version.

Before it is used, :func:`fast_row_scorer` scores probe rows both ways and keeps the fast
path only when every output matches ``Booster.predict`` within 1e-6; otherwise (or when
the library does not offer the call) it returns None and the caller predicts the usual
way. scikit-learn logistic and ridge models are scored as one matrix product
(:func:`linear_scorer`), and scikit-learn's histogram gradient boosting on one thread
(:func:`tree_scorer`), each verified the same way.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "TOLERANCE",
    "LightGBMRow",
    "LinearScores",
    "fast_calibrator",
    "fast_row_scorer",
    "linear_scorer",
    "probe_rows",
    "tree_scorer",
]

TOLERANCE = 1e-6
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_NORMAL = 0  # C_API_PREDICT_NORMAL
log = logging.getLogger("forgeml.serve")

RowScorer = Callable[[np.ndarray], np.ndarray]


class LightGBMRow:
    """One LightGBM booster's prepared single-row predictor (one thread, no copies).

    Not thread-safe: each server worker scores on its event loop thread.
    """

    def __init__(self, booster: Any, features: int) -> None:
        from lightgbm.basic import _LIB, _c_str, _safe_call  # type: ignore[attr-defined]

        self._lib = _LIB
        self._booster = booster  # keeps the model alive as long as the prepared call
        self._handle = ctypes.c_void_p()
        best = int(getattr(booster, "best_iteration", 0) or 0)
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(best if best > 0 else -1),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(features),
                _c_str("num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._predict = _LIB.LGBM_BoosterPredictForMatSingleRowFast
        self.outputs = int(booster.num_model_per_iteration())
        self._out = np.empty(self.outputs, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._length = ctypes.c_int64()
        self._length_ref = ctypes.byref(self._length)
        self.features = features

    def __call__(self, row: np.ndarray) -> np.ndarray:
        """Raw scores of one contiguous float64 row (a copy the caller may keep)."""
        status = self._predict(
            self._handle, row.ctypes.data_as(ctypes.c_void_p), self._length_ref, self._out_ptr
        )
        if status != 0:
            from lightgbm.basic import _safe_call

            _safe_call(status)
        return self._out.copy()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.LGBM_FastConfigFree(handle)
            handle.value = None


def probe_rows(features: int, rows: int = 64, *, seed: int = 0) -> np.ndarray:
    """Rows that exercise a model's branches: wide random values, zeros and NaN."""
    rng = np.random.default_rng(seed)
    probe = rng.normal(scale=rng.choice([1.0, 10.0, 1e4], size=features), size=(rows, features))
    probe[0] = 0.0
    probe[1] = np.nan
    holes = rng.random((rows, features)) < 0.1
    probe[holes] = np.nan
    return np.ascontiguousarray(probe)


class LinearScores:
    """A scikit-learn logistic or ridge model as one matrix product, without its checks.

    ``LogisticRegression.predict_proba`` and ``Ridge.predict`` validate every input with
    ``check_array``, which costs far more than the arithmetic for a few rows. The rows
    reaching this scorer were already checked and encoded, so the product is enough.
    """

    def __init__(self, estimator: Any, task: str) -> None:
        self.coef = np.ascontiguousarray(np.atleast_2d(estimator.coef_).T, dtype=np.float64)
        self.intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
        self.task = task

    def __call__(self, x: np.ndarray) -> np.ndarray:
        decision = x @ self.coef + self.intercept
        if self.task == "regression":
            return np.asarray(decision[:, 0])
        if self.task == "binary":
            with np.errstate(over="ignore"):
                return np.asarray(1.0 / (1.0 + np.exp(-decision[:, 0])))
        decision -= decision.max(axis=1, keepdims=True)
        exp = np.exp(decision)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def linear_scorer(flavor: str, estimator: Any, task: str, reference: RowScorer) -> RowScorer | None:
    """A verified :class:`LinearScores` for a scikit-learn logistic or ridge model, or None.

    ``reference`` is the usual prediction (rows -> raw scores) it must reproduce.
    """
    name = type(estimator).__name__
    if flavor != "sklearn" or name not in ("LogisticRegression", "Ridge", "LinearRegression"):
        return None
    if (task == "regression") != (name != "LogisticRegression"):
        return None
    try:
        fast = LinearScores(estimator, task)
    except (AttributeError, TypeError, ValueError):
        return None
    probe = np.nan_to_num(probe_rows(fast.coef.shape[0]), nan=0.0)
    expected = np.asarray(reference(probe), dtype=np.float64)
    got = fast(probe)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0.0, atol=TOLERANCE):
        log.warning("the direct %s product differs from its predictions; not used", name)
        return None
    return fast


class HistGradientBoostingScores:
    """scikit-learn's histogram gradient boosting scored on one thread.

    Its ``predict_proba`` spreads even one row over every OpenMP thread, which under load
    costs far more than the trees; the same raw predictions on one thread, then the
    model's own link, give the same numbers.
    """

    def __init__(self, estimator: Any, task: str) -> None:
        self._model = estimator
        self._loss = estimator._loss
        self.task = task

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raw = self._model._raw_predict(x, n_threads=1)
        if self.task == "regression":
            return np.asarray(self._loss.link.inverse(raw.ravel()), dtype=np.float64)
        proba = np.asarray(self._loss.predict_proba(raw), dtype=np.float64)
        return proba[:, 1] if self.task == "binary" else proba


def tree_scorer(
    flavor: str, estimator: Any, task: str, features: int, reference: RowScorer
) -> RowScorer | None:
    """A verified one-thread :class:`HistGradientBoostingScores`, or None."""
    name = type(estimator).__name__
    if flavor != "sklearn" or not name.startswith("HistGradientBoosting") or features == 0:
        return None
    probe = probe_rows(features)
    try:
        fast = HistGradientBoostingScores(estimator, task)
        got = fast(probe)
    except Exception as error:  # a scikit-learn release without these internals
        log.info("one-thread tree prediction unavailable: %s", error)
        return None
    expected = np.asarray(reference(probe), dtype=np.float64)
    if got.shape != expected.shape or not np.allclose(
        got, expected, rtol=0.0, atol=TOLERANCE, equal_nan=True
    ):
        log.warning("one-thread %s prediction differs from its predictions; not used", name)
        return None
    return fast


class _SigmoidCalibrator:
    """``predict_proba`` of a one-feature logistic calibrator, as arithmetic."""

    def __init__(self, calibrator: Any) -> None:
        self._scores = LinearScores(calibrator, "binary")

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        p = self._scores(np.asarray(z, dtype=np.float64).reshape(-1, 1))
        return np.column_stack([1.0 - p, p])


class _IsotonicCalibrator:
    """``predict`` of a fitted isotonic regression (clipped at its ends), as ``np.interp``."""

    def __init__(self, calibrator: Any) -> None:
        if getattr(calibrator, "out_of_bounds", "clip") != "clip":
            raise ValueError("only clipped isotonic calibrators")
        self._x = np.asarray(calibrator.X_thresholds_, dtype=np.float64)
        self._y = np.asarray(calibrator.y_thresholds_, dtype=np.float64)

    def predict(self, p: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(p, dtype=np.float64).reshape(-1), self._x, self._y)


def fast_calibrator(method: str | None, calibrator: Any) -> Any | None:
    """A drop-in for a binary calibrator without scikit-learn's input checks, or None.

    Verified on probe probabilities against the calibrator itself.
    """
    if calibrator is None or method not in ("sigmoid", "isotonic"):
        return None
    probe = np.linspace(0.0, 1.0, 101)
    try:
        if method == "sigmoid":
            fast: Any = _SigmoidCalibrator(calibrator)
            logits = np.log(np.clip(probe, 1e-6, 1 - 1e-6) / (1 - np.clip(probe, 1e-6, 1 - 1e-6)))
            got = fast.predict_proba(logits)[:, 1]
            expected = calibrator.predict_proba(logits.reshape(-1, 1))[:, 1]
        else:
            fast = _IsotonicCalibrator(calibrator)
            got, expected = fast.predict(probe), calibrator.predict(probe)
    except (AttributeError, TypeError, ValueError):
        return None
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0.0, atol=TOLERANCE):
        log.warning("the direct %s calibration differs from its calibrator; not used", method)
        return None
    return fast


def fast_row_scorer(flavor: str, estimator: Any, features: int) -> RowScorer | None:
    """A verified single-row scorer for ``estimator``, or None to predict the usual way."""
    if flavor != "lightgbm" or features == 0:
        return None
    booster = getattr(estimator, "booster_", estimator)
    try:
        fast = LightGBMRow(booster, features)
    except Exception as error:
        log.info("native single-row prediction unavailable: %s", error)
        return None
    probe = probe_rows(features)
    expected = np.asarray(booster.predict(probe, num_threads=1), dtype=np.float64)
    got = np.stack([fast(np.ascontiguousarray(row)) for row in probe])
    if got.reshape(expected.shape).shape != expected.shape or not np.allclose(
        got.reshape(expected.shape), expected, rtol=0.0, atol=TOLERANCE, equal_nan=True
    ):
        log.warning("native single-row prediction differs from Booster.predict; not used")
        return None
    return fast
