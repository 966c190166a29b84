"""Scoring models on rows of a dataset: shared by training and by gating a stored version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import TrainSpec
from forgeml.training import metrics as m
from forgeml.training.task import TargetInfo

__all__ = ["CHAMPION", "encode_target", "score", "score_one"]

CHAMPION = "champion"


def score(
    info: TargetInfo, scores: np.ndarray, y: np.ndarray, threshold: float | None, spec: TrainSpec
) -> dict[str, Any]:
    """Every metric for the task from model scores and encoded targets."""
    if info.task == "binary":
        return m.classification_metrics(
            y, scores, threshold=threshold if threshold else 0.5, costs=spec.costs
        )
    if info.task == "multiclass":
        return m.multiclass_metrics(y, scores, len(info.classes or []))
    return m.regression_metrics(y, scores)


def score_one(
    info: TargetInfo,
    scores: np.ndarray,
    y: np.ndarray,
    threshold: float | None,
    spec: TrainSpec,
    metric: str,
) -> float:
    """``score(...)[metric]`` alone (NaN where ``score`` has none), for the loops that need
    one metric many times: the search's trials and permutation importance."""
    return m.one_metric(
        info.task,
        metric,
        y,
        scores,
        threshold=threshold if threshold else 0.5,
        costs=spec.costs,
        n_classes=len(info.classes or []),
    )


def encode_target(table: pa.Table, info: TargetInfo) -> np.ndarray:
    column = table.column(info.column)
    if info.task == "regression":
        return np.asarray(column.to_numpy(), dtype=np.float64)
    codes = pc.index_in(column, value_set=pa.array(info.classes, type=column.type))
    return np.asarray(codes.to_numpy(), dtype=np.int64)
