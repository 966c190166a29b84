"""Predictions from a model bundle: preprocessing, estimator, calibration, threshold.

The trainer evaluates every model through this class on the bundle it stored, so the
numbers in a model card are the numbers of the artifact that is served.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.features import FeaturePipeline
from forgeml.registry import ModelBundle
from forgeml.training.calibration import apply_calibration

__all__ = ["Predictor"]


class Predictor:
    """Scores raw columns (an Arrow table or a mapping of arrays) with a bundle."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self.pipeline = FeaturePipeline.from_dict(bundle.features)
        self.task: str = bundle.extras["task"]
        self.classes: list[Any] | None = bundle.extras.get("classes")
        self.threshold: float | None = bundle.extras.get("threshold")
        self.calibration: str | None = bundle.extras.get("calibration")

    def scores(self, data: pa.Table | Any) -> np.ndarray:
        """Positive-class probability (binary), class probabilities (multiclass) or values."""
        return self.scores_from_matrix(self.pipeline.transform(data))

    def scores_from_matrix(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw(x)
        if self.task != "regression" and self.calibration and self.bundle.calibrator is not None:
            raw = apply_calibration(self.calibration, self.bundle.calibrator, raw)
        return raw

    def labels(self, scores: np.ndarray) -> np.ndarray:
        """Class indices from scores (binary uses the chosen threshold)."""
        if self.task == "binary":
            return (scores >= (self.threshold if self.threshold is not None else 0.5)).astype(
                np.int64
            )
        return np.asarray(scores.argmax(axis=1), dtype=np.int64)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        model, flavor = self.bundle.estimator, self.bundle.flavor
        if flavor == "lightgbm":
            booster = getattr(model, "booster_", model)  # a fitted wrapper or a Booster
            out = np.asarray(booster.predict(x))
        elif flavor == "xgboost":
            import xgboost

            out = np.asarray(model.predict(xgboost.DMatrix(x)))
        elif self.task == "regression":
            out = np.asarray(model.predict(x), dtype=np.float64)
        else:
            out = np.asarray(model.predict_proba(x), dtype=np.float64)
            if self.task == "binary":
                out = out[:, 1]
        if self.task == "binary" and out.ndim == 2:
            out = out[:, 1]
        return out.astype(np.float64, copy=False)
