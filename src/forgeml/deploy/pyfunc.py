"""The model MLflow's ``pyfunc.load_model`` returns for a forgeml export.

An exported MLflow model ships a two-line loader module (``code/forgeml_pyfunc.py``) that
MLflow imports; it hands the model directory to :class:`PyfuncModel`, which loads it with
every check of :func:`~forgeml.deploy.modeldir.load_model_dir` and predicts on the raw
input columns: the positive-class probability (binary), one probability column per class
(multiclass) or the predicted value (regression), as forgeml's own predictor answers.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from forgeml.deploy.modeldir import load_model_dir
from forgeml.model import Model

__all__ = ["LOADER_SOURCE", "PyfuncModel", "output_names"]

LOADER_SOURCE = '''"""MLflow's entry point for a forgeml model: forgeml reads the model folder."""


def _load_pyfunc(data_path):
    from forgeml.deploy.pyfunc import PyfuncModel

    return PyfuncModel(data_path)
'''


def output_names(task: str, classes: list[Any] | None) -> list[str]:
    """The output columns: ``score`` (binary, regression) or one per class value."""
    if task == "multiclass" and classes:
        return [str(c) for c in classes]
    return ["score"]


class PyfuncModel:
    """``predict(DataFrame)`` over a forgeml model directory (MLflow's pyfunc contract)."""

    def __init__(self, model_dir: str | os.PathLike[str]) -> None:
        version, bundle = load_model_dir(model_dir)
        self.model = Model(version, bundle)

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        import pandas as pd

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        columns = [str(c["name"]) for c in self.model.schema]
        frame = frame[[c for c in columns if c in frame.columns]]
        if self.model.task == "regression":
            return pd.DataFrame({"score": np.asarray(self.model.predict(frame), dtype=float)})
        proba = self.model.predict_proba(frame)
        if self.model.task == "binary":
            return pd.DataFrame({"score": proba[:, 1]})
        names = output_names(self.model.task, self.model.classes)
        return pd.DataFrame(proba, columns=names)
