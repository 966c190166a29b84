"""Scoring models on rows of a dataset: shared by training and by gating a stored version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import TrainSpec
from forgeml.errors import DataError, NotFound
from forgeml.project import Project
from forgeml.registry import load_bundle, model_version
from forgeml.training import metrics as m
from forgeml.training.predict import Predictor
from forgeml.training.task import TargetInfo

__all__ = ["CHAMPION", "champion_metrics", "encode_target", "score"]

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


def champion_metrics(
    project: Project, name: str, rows: pa.Table, y: np.ndarray, info: TargetInfo, spec: TrainSpec
) -> dict[str, Any] | None:
    try:
        champion = model_version(f"{name}@{CHAMPION}", project=project)
    except NotFound:
        return None
    predictor = Predictor(load_bundle(champion.artifact_sha256, project.artifacts))
    try:
        scores = predictor.scores(rows)
    except DataError as e:  # e.g. it reads a column this data no longer has
        return {"version": champion.version, "error": e.message}
    return score(info, scores, y, predictor.threshold, spec) | {"version": champion.version}


def encode_target(table: pa.Table, info: TargetInfo) -> np.ndarray:
    column = table.column(info.column)
    if info.task == "regression":
        return np.asarray(column.to_numpy(), dtype=np.float64)
    codes = pc.index_in(column, value_set=pa.array(info.classes, type=column.type))
    return np.asarray(codes.to_numpy(), dtype=np.int64)
