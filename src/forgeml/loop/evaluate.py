"""Champion against challenger on the same most recent labelled rows, and the gate on it.

Both versions score the held-out rows through their stored bundles; the metrics are the
training metrics; the project's gate then judges the challenger, with the champion's
metrics on the same rows as the ``versus_champion`` reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.config import GateSpec
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion, load_model
from forgeml.training import metrics as m
from forgeml.training.gates import GateResult, evaluate_gate
from forgeml.training.predict import Predictor

__all__ = ["Comparison", "compare_versions", "version_metrics"]


@dataclass(frozen=True)
class Comparison:
    """Both versions' metrics on the same rows, and the gate's verdict on the challenger."""

    rows: int
    metric: str
    champion: dict[str, Any]
    challenger: dict[str, Any]
    gate: GateResult

    @property
    def better(self) -> bool:
        a, b = self.challenger.get(self.metric), self.champion.get(self.metric)
        return a is not None and b is not None and m.is_better(self.metric, a, b)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "metric": self.metric,
            "champion": _plain(self.champion),
            "challenger": _plain(self.challenger),
            "gate": self.gate.to_dict(),
        }


def version_metrics(
    project: Project, version: ModelVersion, rows: pa.Table, target: str
) -> dict[str, Any]:
    """The training metrics of ``version`` on ``rows`` (inputs and the target column)."""
    _, bundle = load_model(version.ref, project=project)
    predictor = Predictor(bundle)
    scores = predictor.scores(rows)
    truth = rows.column(target).to_pylist()
    task = predictor.task
    if task == "regression":
        return m.regression_metrics(np.asarray(truth, dtype=np.float64), scores)
    classes = list(predictor.classes or [])
    y = np.array([classes.index(v) for v in truth], dtype=np.int64)
    if task == "binary":
        threshold = predictor.threshold if predictor.threshold is not None else 0.5
        return m.classification_metrics(y, scores, threshold=threshold)
    return m.multiclass_metrics(y, scores, len(classes))


def compare_versions(
    project: Project,
    champion: ModelVersion,
    challenger: ModelVersion,
    rows: pa.Table,
    target: str,
    *,
    metric: str,
    gate: GateSpec,
) -> Comparison:
    """Score both on ``rows`` and gate the challenger against the champion."""
    theirs = version_metrics(project, champion, rows, target)
    ours = version_metrics(project, challenger, rows, target)
    verdict = evaluate_gate(gate, ours, champion=theirs)
    return Comparison(rows.num_rows, metric, theirs, ours, verdict)


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v)
        for k, v in metrics.items()
        if k != "confusion_matrix"
    }
