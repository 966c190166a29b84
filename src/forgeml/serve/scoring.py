"""A model version ready to answer requests: checks, features and the model, per request.

:class:`Scorer` is built once per served version. Per request it runs the input checks
(:mod:`forgeml.serve.inputs`), writes the feature matrix from the checked columns (the
numeric inputs of tree models are copied as one block; every other column goes through
its fitted encoder, so serving runs exactly what training ran) and scores it with the
bundle's model: single rows through the verified native path (:mod:`forgeml.serve.native`),
larger batches through the library with one thread (every scikit-learn ``n_jobs`` inside
the model is set to one: :func:`forgeml.serve.threads.one_job`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from forgeml.errors import InputRejected
from forgeml.features.encoders import Encoder, NumberEncoder
from forgeml.features.scaling import Standardizer
from forgeml.flavors.onnx_flavor import feed as onnx_feed
from forgeml.registry import ModelBundle
from forgeml.registry.versions import ModelVersion
from forgeml.serve.finite import NONFINITE_FIX, NONFINITE_PROBLEM, nonfinite_rows, unscorable
from forgeml.serve.inputs import Batch, InputSchema, OutOfRange
from forgeml.serve.native import (
    TOLERANCE,
    fast_calibrator,
    fast_row_scorer,
    linear_scorer,
    probe_rows,
    tree_scorer,
)
from forgeml.serve.tensors import TensorSchema
from forgeml.serve.threads import one_job
from forgeml.training.predict import Predictor

if TYPE_CHECKING:
    from forgeml.featurestore.serving import ServedFeatures

__all__ = ["Scored", "Scorer"]


@dataclass(frozen=True)
class Scored:
    """Model outputs for a batch.

    ``scores``: P(positive class) for binary models, the top class's probability for
    multiclass, the value for regression. ``labels``: the predicted class per row
    (classification) or None. ``probabilities``: (rows, classes) for multiclass only.
    """

    scores: np.ndarray
    labels: list[Any] | None
    probabilities: np.ndarray | None


class _ServingPredictor(Predictor):
    """The bundle's predictor with one-thread native calls for boosted trees."""

    def __init__(self, bundle: ModelBundle) -> None:
        for part in (bundle.estimator, bundle.calibrator):
            one_job(part)  # a worker per core already: joblib threads only compete
        calibrator = fast_calibrator(bundle.extras.get("calibration"), bundle.calibrator)
        if calibrator is not None:
            bundle = replace(bundle, calibrator=calibrator)
        super().__init__(bundle)
        width = len(self.pipeline.feature_names)
        self._row = fast_row_scorer(bundle.flavor, bundle.estimator, width)
        self._xgboost = bundle.flavor == "xgboost" and _xgboost_inplace(bundle.estimator, width)
        self._linear = linear_scorer(bundle.flavor, bundle.estimator, self.task, super()._raw)
        self._trees = tree_scorer(bundle.flavor, bundle.estimator, self.task, width, super()._raw)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        if self._row is not None:
            if len(x) == 1:
                out = self._row(x[0])
                return out.reshape(1, -1) if out.size > 1 else out
            booster = getattr(self.bundle.estimator, "booster_", self.bundle.estimator)
            return np.asarray(booster.predict(x, num_threads=1), dtype=np.float64)
        if self._linear is not None:
            return self._linear(x)
        if self._trees is not None:
            return self._trees(x)
        if self._xgboost:
            out = np.asarray(self.bundle.estimator.inplace_predict(x), dtype=np.float64)
            return out[:, 1] if self.task == "binary" and out.ndim == 2 else out
        return super()._raw(x)


class Scorer:
    """Scores requests for one model version."""

    def __init__(
        self,
        version: ModelVersion,
        bundle: ModelBundle,
        *,
        out_of_range: OutOfRange = "flag",
        max_rows: int = 10_000,
        passthrough: Sequence[str] = (),
        features: ServedFeatures | None = None,
    ) -> None:
        self.version = version
        self.served_features = features  # fills request records from the online store
        if features is not None:
            passthrough = (*passthrough, *(k for k in features.keys if k not in passthrough))
        self.predictor = _ServingPredictor(bundle)
        classes = self.predictor.classes
        self.classes: list[Any] | None = list(classes) if classes is not None else None
        self.task = self.predictor.task
        self.tensors = self.predictor.tensors is not None
        self.schema: InputSchema | TensorSchema
        if self.predictor.tensors is not None:  # the request's array is the model's input
            self.schema = TensorSchema(self.predictor.tensors, max_rows=max_rows)
            return
        pipeline = self.predictor.pipeline
        by_name = {c["name"]: c for c in version.signature.get("inputs", [])}
        inputs = [by_name.get(name, {"name": name}) for name in pipeline.input_columns]
        self.schema = InputSchema(
            inputs, out_of_range=out_of_range, max_rows=max_rows, passthrough=passthrough
        )
        self.width = len(pipeline.feature_names)
        position = {name: j for j, name in enumerate(self.schema.numeric)}
        self._numeric = position
        direct_in: list[int] = []
        direct_out: list[int] = []
        self._steps: list[tuple[Encoder, slice, int | None]] = []
        scaled: list[tuple[Standardizer, int, int, bool]] = []
        for encoder, where in pipeline.steps:
            column = position.get(encoder.column)
            if not isinstance(encoder, NumberEncoder) or column is None:
                self._steps.append((encoder, where, None))
            elif encoder.scale is not None:
                scaled.append((encoder.scale, where.start, column, encoder.indicator))
            elif not encoder.indicator:
                direct_in.append(column)
                direct_out.append(where.start)
            else:
                self._steps.append((encoder, where, column))
        self._scale = Standardizer.block([scale for scale, _, _, _ in scaled])
        self._scaled_in = np.array([j for _, _, j, _ in scaled], dtype=np.intp)
        self._scaled_out = np.array([k for _, k, _, _ in scaled], dtype=np.intp)
        self._flag_in = np.array([j for _, _, j, flag in scaled if flag], dtype=np.intp)
        self._flag_out = np.array([k + 1 for _, k, _, flag in scaled if flag], dtype=np.intp)
        self._direct_in = np.array(direct_in, dtype=np.intp)
        self._direct_out = np.array(direct_out, dtype=np.intp)
        self._all_direct = direct_out == list(range(self.width)) and direct_in == list(
            range(len(direct_in))
        )

    @property
    def model(self) -> str:
        return self.version.name

    @property
    def number(self) -> int:
        return self.version.version

    def read(self, payload: Any, *, columnar: bool = False) -> Batch:
        """The checked columns of a decoded payload (raises ``InputRejected``)."""
        if self.served_features is not None:  # columnar payloads are records first
            payload = self.served_features.enrich({"columns": payload} if columnar else payload)
            columnar = False
        return self.schema.read(payload, columnar=columnar)

    def features(self, batch: Batch) -> np.ndarray:
        """The feature matrix of checked rows, exactly as the fitted pipeline writes it."""
        if self.tensors:
            return batch.numbers
        if self.predictor.feeds is not None:  # each column as sent, in the graph's order
            out = np.empty((batch.rows, len(self.predictor.feeds)), dtype=object)
            for j, name in enumerate(self.predictor.feeds):
                column = self._numeric.get(name)
                out[:, j] = batch.columns[name] if column is None else batch.numbers[:, column]
            onnx_feed(
                self.predictor.bundle.estimator, out
            )  # a value its input cannot hold: 422 now
            return out
        if self._all_direct:
            return batch.numbers
        out = np.empty((batch.rows, self.width), dtype=np.float64)
        if len(self._direct_out):
            out[:, self._direct_out] = batch.numbers[:, self._direct_in]
        if len(self._scaled_out):
            block = batch.numbers[:, self._scaled_in]
            out[:, self._scaled_out] = self._scale(block)
        if len(self._flag_out):
            out[:, self._flag_out] = ~np.isfinite(batch.numbers[:, self._flag_in])
        for encoder, where, column in self._steps:
            values = batch.columns[encoder.column] if column is None else batch.numbers[:, column]
            encoder.encode(values, out[:, where])
        return out

    def score(self, batch: Batch) -> Scored:
        """Scores, labels and (multiclass) probabilities of checked rows.

        Raises :class:`InputRejected` naming the input when the model's output for a row is
        not finite (see :mod:`forgeml.serve.finite`): an answer never carries one.
        """
        return self.finish(batch, self.raw(self.features(batch)))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The model's scores for a feature matrix (or a tensor batch): one call."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.predictor.scores_from_matrix(x)

    def finish(self, batch: Batch, raw: np.ndarray) -> Scored:
        """Scores, labels and probabilities from the model's raw scores for ``batch``."""
        if isinstance(self.schema, InputSchema):
            problems = unscorable(self.schema, batch.numbers, raw)
        else:
            problems = [
                {"field": self.schema.name, "row": row, "problem": NONFINITE_PROBLEM}
                for row in nonfinite_rows(raw).tolist()
            ]
        if problems:
            raise InputRejected(problems, fix=NONFINITE_FIX)
        return self.outputs(raw)

    def outputs(self, raw: np.ndarray) -> Scored:
        raw = np.ascontiguousarray(raw, dtype=np.float64)  # calibrators may return views
        if self.task == "regression":
            return Scored(raw, None, None)
        indices = self.predictor.labels(raw)
        classes = self.classes or []
        labels = [classes[i] for i in indices.tolist()] if classes else indices.tolist()
        if self.task == "binary":
            return Scored(raw, labels, None)
        return Scored(raw.max(axis=1), labels, raw)


def _xgboost_inplace(estimator: Any, width: int) -> bool:
    """Whether ``inplace_predict`` on one thread reproduces ``predict`` for this booster."""
    import xgboost

    booster = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
    booster.set_param({"nthread": 1})
    probe = probe_rows(width, rows=32)
    try:
        fast = np.asarray(booster.inplace_predict(probe), dtype=np.float64)
    except (xgboost.core.XGBoostError, TypeError, ValueError):
        return False
    usual = np.asarray(booster.predict(xgboost.DMatrix(probe)), dtype=np.float64)
    return fast.shape == usual.shape and bool(
        np.allclose(fast, usual, rtol=0.0, atol=TOLERANCE, equal_nan=True)
    )
