"""Predictions from a model bundle: preprocessing, estimator, calibration, threshold.

The trainer evaluates every model through this class on the bundle it stored, so the
numbers in a model card are the numbers of the artifact that is served.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.errors import DataError
from forgeml.features import FeaturePipeline
from forgeml.flavors import NEURAL
from forgeml.registry import ModelBundle
from forgeml.training.calibration import apply_calibration

__all__ = ["Predictor", "task_scores"]


class Predictor:
    """Scores raw columns (an Arrow table or a mapping of arrays) with a bundle."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        # a model that takes tensors has no column preprocessing
        self.tensors: list[dict[str, Any]] | None = bundle.extras.get("tensors")
        # an ONNX graph fed one input per column, of its own type (strings among them)
        self.feeds: list[str] | None = bundle.extras.get("feeds")
        self.pipeline = (
            FeaturePipeline([], strategy="tree")
            if self.tensors is not None
            else FeaturePipeline.from_dict(bundle.features)
        )
        self.task: str = bundle.extras["task"]
        self.classes: list[Any] | None = bundle.extras.get("classes")
        self.threshold: float | None = bundle.extras.get("threshold")
        self.calibration: str | None = bundle.extras.get("calibration")

    def scores(self, data: pa.Table | Any) -> np.ndarray:
        """Positive-class probability (binary), class probabilities (multiclass) or values.

        A model with a tensor signature takes its (batch, ...) array as is.
        """
        if self.tensors is not None:
            return self.scores_from_matrix(self._tensor(data, self.tensors[0]))
        if self.feeds is not None:
            return self.scores_from_matrix(self._fed(data, self.feeds))
        return self.scores_from_matrix(self.pipeline.transform(data))

    def _tensor(self, data: Any, spec: dict[str, Any]) -> np.ndarray:
        """The model's input array; a table's columns (all but the target) are one row each.

        A dataset of flattened images (64 pixel columns for an 8x8 image) is reshaped to
        the signature's shape, so a tensor model is gated on rows of a dataset.
        """
        if isinstance(data, pa.Table):
            target = self.bundle.extras.get("target")
            names = [n for n in data.column_names if n != target]
            flat = np.column_stack([data.column(n).to_numpy(zero_copy_only=False) for n in names])
            size = int(np.prod(spec["shape"][1:]))
            if flat.shape[1] != size:
                raise DataError(
                    f"a table of {flat.shape[1]} columns cannot be reshaped to the model's "
                    f"input {spec['name']} of shape {spec['shape']}",
                    fix=f"give one column per value ({size}) besides the target",
                )
            return flat.reshape(-1, *spec["shape"][1:]).astype(spec["dtype"])
        return np.asarray(data)

    @staticmethod
    def _fed(data: Any, names: list[str]) -> np.ndarray:
        """The columns as they are, one an input: an object block (rows, inputs)."""
        columns = [_values(data, name) for name in names]
        out = np.empty((len(columns[0]) if columns else 0, len(names)), dtype=object)
        for j, values in enumerate(columns):
            out[:, j] = values
        return out

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
        if flavor in NEURAL:
            from forgeml.flavors import flavor_module

            raw = flavor_module(flavor).predict(model, x)
            return task_scores(raw, self.task, self.bundle.extras.get("outputs"))
        if flavor == "lightgbm":
            booster = getattr(model, "booster_", model)  # a fitted wrapper or a Booster
            out = np.asarray(booster.predict(x))
        elif flavor == "xgboost":
            import xgboost

            names = getattr(model, "feature_names", None)  # a booster fitted on a frame
            out = np.asarray(model.predict(xgboost.DMatrix(x, feature_names=names)))
        else:
            # a logged model fitted on named columns checks the names it is given
            given = _frame(model, x) if self.bundle.extras.get("frame") else x
            if self.task == "regression":
                out = np.asarray(model.predict(given), dtype=np.float64)
            else:
                out = np.asarray(model.predict_proba(given), dtype=np.float64)
                if self.task == "binary":
                    out = out[:, 1]
        if self.task == "binary" and out.ndim == 2:
            out = out[:, 1]
        return out.astype(np.float64, copy=False)


def _values(data: Any, name: str) -> Any:
    if isinstance(data, pa.Table):
        if name not in data.column_names:
            raise DataError(
                f"the model's input column {name!r} is missing", fix=f"add a column {name!r}"
            )
        return data.column(name).to_numpy(zero_copy_only=False)
    return np.asarray(data[name])


def _frame(model: Any, x: np.ndarray) -> Any:
    import pandas as pd

    return pd.DataFrame(x, columns=list(model.feature_names_in_))


def task_scores(raw: np.ndarray, task: str, outputs: str | None) -> np.ndarray:
    """A network's outputs as forgeml's scores for ``task``.

    ``outputs`` says what the network answers: ``"logits"`` (turned into probabilities
    with a sigmoid or softmax) or ``"probabilities"``.

    >>> task_scores(np.array([[0.0], [100.0]]), "binary", "logits").round(3).tolist()
    [0.5, 1.0]
    >>> task_scores(np.array([[0.2, 0.8]]), "binary", "probabilities").tolist()
    [0.8]
    >>> task_scores(np.array([[0.0, 0.0]]), "multiclass", "logits").tolist()
    [[0.5, 0.5]]
    """
    out = np.asarray(raw, dtype=np.float64)
    if task == "regression":
        return out.reshape(len(out), -1)[:, 0] if out.ndim > 1 else out
    out = out.reshape(len(out), -1)
    if outputs == "logits":
        if out.shape[1] == 1:
            out = 1.0 / (1.0 + np.exp(-out))
        else:
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            out = shifted / shifted.sum(axis=1, keepdims=True)
    if task == "binary":
        return np.ascontiguousarray(out[:, -1])
    return np.ascontiguousarray(out)
