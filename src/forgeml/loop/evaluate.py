"""Champion against challenger on the same most recent labelled rows, and the gate on it.

Both versions score the held-out rows through their stored bundles; the metrics are the
training metrics; the project's gate then judges the challenger, with the champion's
metrics on the same rows as the ``versus_champion`` reference. The comparison is also
tested row by row: the challenger is *conclusively* better when its per-row loss (log
loss, 0/1 error or squared error) is lower than the champion's on the same rows beyond a
99% confidence bound (a paired z-test).
"""

from __future__ import annotations

import math
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

_CONCLUSIVE = 2.576  # two-sided 99%


@dataclass(frozen=True)
class Comparison:
    """Both versions' metrics on the same rows, and the gate's verdict on the challenger."""

    rows: int
    metric: str
    champion: dict[str, Any]
    challenger: dict[str, Any]
    gate: GateResult
    conclusive: bool = False  # better row by row beyond a 99% bound

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
            "conclusive": self.conclusive,
        }


def version_metrics(
    project: Project, version: ModelVersion, rows: pa.Table, target: str
) -> dict[str, Any]:
    """The training metrics of ``version`` on ``rows`` (inputs and the target column)."""
    return _scored(project, version, rows, target)[0]


def _scored(
    project: Project, version: ModelVersion, rows: pa.Table, target: str
) -> tuple[dict[str, Any], np.ndarray]:
    """The metrics of ``version`` on ``rows``, and its loss on each row."""
    _, bundle = load_model(version.ref, project=project)
    predictor = Predictor(bundle)
    scores = predictor.scores(rows)
    truth = rows.column(target).to_pylist()
    task = predictor.task
    if task == "regression":
        y_true = np.asarray(truth, dtype=np.float64)
        return m.regression_metrics(y_true, scores), (scores - y_true) ** 2
    classes = list(predictor.classes or [])
    y = np.array([classes.index(v) for v in truth], dtype=np.int64)
    if task == "binary":
        threshold = predictor.threshold if predictor.threshold is not None else 0.5
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        return m.classification_metrics(y, scores, threshold=threshold), loss
    loss = np.asarray(scores.argmax(axis=1) != y, dtype=np.float64)
    return m.multiclass_metrics(y, scores, len(classes)), loss


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
    theirs, their_loss = _scored(project, champion, rows, target)
    ours, our_loss = _scored(project, challenger, rows, target)
    verdict = evaluate_gate(gate, ours, champion=theirs)
    return Comparison(
        rows.num_rows, metric, theirs, ours, verdict, _conclusive(their_loss - our_loss)
    )


def _conclusive(gain: np.ndarray) -> bool:
    """Whether a per-row loss reduction is positive beyond a 99% bound (paired z-test)."""
    if len(gain) < 30:
        return False
    spread = float(gain.std(ddof=1)) / math.sqrt(len(gain))
    return spread > 0 and float(gain.mean()) / spread > _CONCLUSIVE


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v)
        for k, v in metrics.items()
        if k != "confusion_matrix"
    }
