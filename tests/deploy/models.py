"""Helpers for deploy tests: a project with registered models, and their exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from forgeml.model import Model
from forgeml.project import Project
from forgeml.registry import load_model
from serve.serving import credit_table, record, register

__all__ = ["credit_table", "forgeml_scores", "make_project", "record", "rows"]


def make_project(root: Path) -> Project:
    """A SQLite project with ``credit`` (LightGBM, binary) and ``spend`` (Ridge, regression)."""
    project = Project.init(root, name="deploy")
    register(project, "credit", flavor="lightgbm", task="binary")
    register(project, "spend", flavor="sklearn", task="regression")
    register(project, "tier", flavor="lightgbm", task="multiclass")
    return project


def rows(count: int = 20) -> list[dict[str, object]]:
    table = credit_table(seed=7)
    return [record(table, i) for i in range(count)]


def forgeml_scores(project: Project, ref: str, records: list[dict[str, object]]) -> np.ndarray:
    """What forgeml's own predictor answers for ``records`` (probabilities or values)."""
    version, bundle = load_model(ref, project=project)
    model = Model(version, bundle)
    table = _table(records, model.schema)
    if model.task == "regression":
        return model.predict(table)
    return model.predict_proba(table)


def _table(records: list[dict[str, object]], schema: list[dict[str, object]]) -> pa.Table:
    from datetime import datetime

    columns: dict[str, list[object]] = {str(c["name"]): [] for c in schema}
    for item in records:
        for name in columns:
            value = item.get(name)
            if isinstance(value, str) and name == "opened":
                value = datetime.fromisoformat(value)
            columns[name].append(value)
    return pa.table(columns)
