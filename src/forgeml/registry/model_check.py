"""A model that cannot predict never reaches the registry, an alias or a server.

Before a version is registered, before an alias moves to it, and when a server loads it,
the model predicts on a few example rows: the smallest and the largest value of every
numeric input and the first and last category of every categorical one (as the
signature recorded them from the training data), and a row with every input missing.
A numeric input whose range the signature does not record (a model imported with its
column names and types only) is probed with 0 and 1 instead.
An unfitted estimator, one that raises, or one that answers with a wrong number of rows
or values that are not finite is refused with :class:`~forgeml.errors.ModelCannotPredict`.

>>> from sklearn.linear_model import LogisticRegression
>>> check_predicts(ModelBundle("sklearn", LogisticRegression(), {}), {}, "credit")
Traceback (most recent call last):
...
forgeml.errors.ModelCannotPredict: credit cannot predict on example rows: NotFittedError: ...
  fix: fit the model before registering it, and check that it predicts on a few rows
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from forgeml.errors import ModelCannotPredict
from forgeml.registry.bundle import ModelBundle

__all__ = ["check_predicts", "example_rows"]


def example_rows(bundle: ModelBundle, signature: Mapping[str, Any]) -> np.ndarray:
    """The feature matrix of the example rows a model must answer before it is used.

    A model with a tensor signature gets three examples of its first input's shape:
    zeros, ones and a ramp from -1 to 1.
    """
    tensors = bundle.extras.get("tensors")
    if tensors:
        shape = [3 if size == -1 else int(size) for size in tensors[0]["shape"]]
        count = int(np.prod(shape[1:]))
        ramp = np.linspace(-1.0, 1.0, count).reshape(shape[1:])
        batch = np.stack([np.zeros(shape[1:]), np.ones(shape[1:]), ramp])
        return batch.astype(tensors[0].get("dtype", "float32"))
    if _has_pipeline(bundle):
        from forgeml.features import FeaturePipeline

        pipeline = FeaturePipeline.from_dict(bundle.features)
        inputs = {c.get("name"): c for c in signature.get("inputs", []) if isinstance(c, dict)}
        ends: tuple[str | None, ...] = ("min", "max", None)
        if bundle.extras.get("byo") and not any(c.get("nullable") for c in inputs.values()):
            ends = ("min", "max")  # a logged model need not handle values it never sees
        records = [
            {name: _value(inputs.get(name, {}), end) for name in pipeline.input_columns}
            for end in ends
        ]
        feeds = bundle.extras.get("feeds")
        if feeds:  # an ONNX graph fed each column as it is sent, strings among them
            rows = [[_sent(inputs.get(n, {}), r[n]) for n in feeds] for r in records]
            return np.array(rows, dtype=object)
        return pipeline.transform_records(records)
    width = _width(bundle.estimator) or max(1, len(signature.get("inputs", [])))
    return np.vstack([np.zeros(width), np.ones(width), np.linspace(-1.0, 1.0, width)])


def check_predicts(
    bundle: ModelBundle,
    signature: Mapping[str, Any],
    what: str,
    *,
    predict: Callable[[np.ndarray], Any] | None = None,
) -> np.ndarray:
    """The model's outputs on :func:`example_rows`; raises ModelCannotPredict if it fails.

    ``predict`` maps the feature matrix to outputs (a server passes the scorer it will
    answer requests with); by default the bundle's own prediction path is used.
    """
    try:
        rows = example_rows(bundle, signature)
        found = predict(rows) if predict is not None else _predict(bundle, rows)
        out = np.asarray(found, dtype=np.float64)
    except Exception as e:  # each library raises its own errors for a broken model
        raise ModelCannotPredict(
            f"{what} cannot predict on example rows: {type(e).__name__}: {e}",
            fix="fit the model before registering it, and check that it predicts on a few rows",
        ) from None
    if len(out) != len(rows) or not np.isfinite(out).all():
        raise ModelCannotPredict(
            f"{what} answered {len(rows)} example rows with "
            + (f"{len(out)} rows" if len(out) != len(rows) else "values that are not finite"),
            fix="check the model's training: it must give one finite answer per row",
        )
    return out


def _has_pipeline(bundle: ModelBundle) -> bool:
    """Whether the bundle's features are forgeml's fitted preprocessing (not any JSON)."""
    from forgeml.features.pipeline import FORMAT

    return bundle.features.get("format") == FORMAT


_PROBES = {"min": 0, "max": 1}
"""The values a numeric input without a recorded range is tried with."""


def _value(column: Mapping[str, Any], end: str | None) -> Any:
    if end is None:
        return None
    if column.get("kind") in ("integer", "float"):
        recorded = column.get(end)
        return _PROBES[end] if recorded is None else recorded
    categories = column.get("categories")
    if column.get("kind") == "category" and categories:
        return categories[0] if end == "min" else categories[-1]
    if column.get("kind") == "boolean":
        return end == "max"
    return None


def _sent(column: Mapping[str, Any], value: Any) -> Any:
    """A request's value: a string column without recorded categories is sent ``""``."""
    if value is None and column.get("kind") in ("category", "text"):
        return ""
    return value


def _width(estimator: Any) -> int | None:
    for read in ("n_features_in_", "num_feature", "num_features"):
        found = getattr(estimator, read, None)
        try:
            value = found() if callable(found) else found
        except Exception:  # an unfitted model knows no width
            continue
        if isinstance(value, (int, np.integer)) and value > 0:
            return int(value)
    return None


def _predict(bundle: ModelBundle, rows: np.ndarray) -> np.ndarray:
    if "task" in bundle.extras and (_has_pipeline(bundle) or "tensors" in bundle.extras):
        from forgeml.training.predict import Predictor  # the path training and serving use

        return Predictor(bundle).scores_from_matrix(rows)
    model = bundle.estimator
    if bundle.flavor == "xgboost" and not hasattr(model, "fit"):
        import xgboost

        return np.asarray(model.predict(xgboost.DMatrix(rows)))
    return np.asarray(model.predict(rows))
