"""Training functions that forgeml.yaml names as ``train.entry_point`` in the tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

CALLS: list[tuple[int, list[str]]] = []  # (rows, columns) of each call


def fit_credit(frame: pd.DataFrame) -> Any:
    """A scaled logistic regression on every column but the label."""
    CALLS.append((len(frame), list(frame.columns)))
    x, y = frame.drop(columns=["defaulted"]), frame["defaulted"]
    steps = [("scale", StandardScaler()), ("model", LogisticRegression(max_iter=500))]
    return Pipeline(steps).fit(x, y)


def returns_nothing(frame: pd.DataFrame) -> None:
    """Forgets to return the model."""


NOT_A_FUNCTION = 3
