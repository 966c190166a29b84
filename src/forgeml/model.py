"""A registered model version loaded for prediction: ``forgeml.load_model(...)`` returns one.

It takes what a scikit-learn model takes (a pandas or polars DataFrame, an Arrow table, or a
NumPy array whose columns are in :attr:`Model.inputs` order) and answers in the values of the
training target: class values, not indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.data.sources import read_frame
from forgeml.errors import DataError
from forgeml.registry import ModelBundle, ModelVersion
from forgeml.training.predict import Predictor

__all__ = ["Model"]


class Model:
    """A model version and its verified bundle, ready to ``predict``."""

    def __init__(self, version: ModelVersion, bundle: ModelBundle) -> None:
        self.model_version = version
        self._predictor = Predictor(bundle)

    @property
    def name(self) -> str:
        return self.model_version.name

    @property
    def version(self) -> int:
        return self.model_version.version

    @property
    def ref(self) -> str:
        """``name@version``."""
        return self.model_version.ref

    @property
    def aliases(self) -> list[str]:
        return list(self.model_version.aliases)

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return self._predictor.task

    @property
    def classes(self) -> list[Any] | None:
        """The target's class values (the columns of :meth:`predict_proba`), or None."""
        return self._predictor.classes

    @property
    def inputs(self) -> list[str]:
        """The input columns, in the order a NumPy array's columns are read."""
        return self._predictor.pipeline.input_columns

    @property
    def schema(self) -> list[dict[str, Any]]:
        """The input columns with their kinds, as the dataset's schema described them."""
        return list(self.model_version.signature.get("inputs", []))

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics recorded at registration (``test`` and ``valid`` for a trained model)."""
        return self.model_version.metrics

    def predict(self, data: Any) -> np.ndarray:
        """Predicted values: class values for a classifier, numbers for a regressor."""
        scores = self._scores(data)
        if self.task == "regression":
            return scores
        indices = self._predictor.labels(scores)
        if self.classes is None:
            return indices
        values = np.asarray(self.classes, dtype=object if _mixed(self.classes) else None)
        chosen: np.ndarray = values[indices]
        return chosen

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, one column per value of :attr:`classes` (rows, classes)."""
        if self.task == "regression":
            raise DataError(
                f"{self.ref} is a regression model: it has no class probabilities",
                fix="call predict() for its predicted values",
            )
        scores = self._scores(data)
        if self.task == "binary":
            return np.column_stack([1.0 - scores, scores])
        return scores

    def _scores(self, data: Any) -> np.ndarray:
        tensors = self._predictor.tensors
        if tensors is None:
            return self._predictor.scores(self._table(data))
        array = np.asarray(data)
        expected = tensors[0]["shape"]
        if array.ndim != len(expected) or any(
            e != -1 and e != s for e, s in zip(expected, array.shape, strict=True)
        ):
            raise DataError(
                f"{self.ref} takes {tensors[0]['name']} of shape {expected}, not {array.shape}",
                fix=f"stack the inputs along the first axis, each of shape {expected[1:]}",
            )
        return self._predictor.scores(array.astype(tensors[0]["dtype"], copy=False))

    def _table(self, data: Any) -> pa.Table:
        if isinstance(data, np.ndarray):
            return self._from_array(data)
        if isinstance(data, dict):
            return pa.table(data)
        try:
            return read_frame(data).table
        except DataError:
            raise DataError(
                f"{self.ref} cannot predict from a {type(data).__name__}",
                fix="pass a pandas or polars DataFrame, an Arrow table, or a NumPy array "
                f"with columns {', '.join(self.inputs)}",
            ) from None

    def _from_array(self, array: np.ndarray) -> pa.Table:
        inputs = self.inputs
        if array.ndim != 2 or array.shape[1] != len(inputs):
            raise DataError(
                f"{self.ref} takes a 2-D array of {len(inputs)} columns, not one of shape "
                f"{array.shape}",
                fix=f"pass the columns in this order: {', '.join(inputs)}",
            )
        return pa.table({name: array[:, i] for i, name in enumerate(inputs)})

    def __repr__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"<Model {self.ref}{aliases} {self.task}, {len(self.inputs)} inputs>"


def _mixed(values: list[Any]) -> bool:
    return len({type(v) for v in values}) > 1
