"""Champion against challenger on the same most recent labelled rows, and the gate on it.

Both versions score the held-out rows through their stored bundles; the metrics are the
training metrics; the project's gate then judges the challenger, with the champion's
metrics on the same rows as the ``versus_champion`` reference. The difference on the
policy's metric is then bootstrapped *paired*: each resample draws the same rows for both
models, so the rows' own difficulty cancels and only the models' difference varies. Its
95% interval says whether the challenger is better beyond doubt (``conclusive``: the whole
interval above zero), worse beyond doubt (``worse``: the whole interval below zero), or
within noise of the champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.config import GateSpec
from forgeml.monitor.bootstrap import paired_difference
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion, load_model
from forgeml.training import metrics as m
from forgeml.training.gates import Check, GateResult, evaluate_gate, is_declared
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
    # the 95% paired bootstrap interval of how much better the challenger is (> 0: better)
    difference: tuple[float | None, float | None] = (None, None)

    @property
    def conclusive(self) -> bool:
        """Better beyond doubt: the whole interval of the difference is above zero."""
        return self.difference[0] is not None and self.difference[0] > 0

    @property
    def worse(self) -> bool:
        """Worse beyond doubt: the whole interval of the difference is below zero."""
        return self.difference[1] is not None and self.difference[1] < 0

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
            "difference": list(self.difference),
            "better": self.better,
            "conclusive": self.conclusive,
            "worse": self.worse,
        }


def version_metrics(
    project: Project, version: ModelVersion, rows: pa.Table, target: str
) -> dict[str, Any]:
    """The training metrics of ``version`` on ``rows`` (inputs and the target column)."""
    return _scored(project, version, rows, target).metrics


@dataclass(frozen=True)
class _Scored:
    metrics: dict[str, Any]
    task: str
    y: np.ndarray  # 0/1, class index or value
    scores: np.ndarray
    threshold: float


def _scored(project: Project, version: ModelVersion, rows: pa.Table, target: str) -> _Scored:
    """The metrics of ``version`` on ``rows``, with its scores."""
    _, bundle = load_model(version.ref, project=project)
    predictor = Predictor(bundle)
    scores = predictor.scores(rows)
    truth = rows.column(target).to_pylist()
    task = predictor.task
    if task == "regression":
        y_true = np.asarray(truth, dtype=np.float64)
        return _Scored(m.regression_metrics(y_true, scores), task, y_true, scores, 0.5)
    classes = list(predictor.classes or [])
    y = np.array([classes.index(v) for v in truth], dtype=np.int64)
    if task == "binary":
        threshold = predictor.threshold if predictor.threshold is not None else 0.5
        found = m.classification_metrics(y, scores, threshold=threshold)
        return _Scored(found, task, y, scores, float(threshold))
    return _Scored(m.multiclass_metrics(y, scores, len(classes)), task, y, scores, 0.5)


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
    """Score both on ``rows``, bootstrap their paired difference, gate the challenger."""
    theirs = _scored(project, champion, rows, target)
    ours = _scored(project, challenger, rows, target)
    difference = paired_difference(
        metric,
        ours.task,
        ours.y,
        theirs.scores,
        ours.scores,
        thresholds=(theirs.threshold, ours.threshold),
    )
    if is_declared(gate):
        verdict = evaluate_gate(gate, ours.metrics, champion=theirs.metrics)
    else:
        verdict = _default_gate(metric, ours.metrics, theirs.metrics, difference, rows.num_rows)
    return Comparison(rows.num_rows, metric, theirs.metrics, ours.metrics, verdict, difference)


def _default_gate(
    metric: str,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    difference: tuple[float | None, float | None],
    rows: int,
) -> GateResult:
    """With no gate declared: the challenger must not be worse beyond doubt (paired)."""
    low, high = difference
    mine, their = ours.get(metric), theirs.get(metric)
    detail = f"candidate {_text(mine)}, champion {_text(their)} on the same {rows} rows"
    if low is not None and high is not None:
        detail += f"; 95% paired interval of the gain {low:+.4f} to {high:+.4f}"
    check = Check(
        f"{metric} vs champion",
        mine if isinstance(mine, int | float) else None,
        "not worse beyond doubt",
        mine is not None and their is not None and not (high is not None and high < 0),
        detail,
    )
    return GateResult([check], default=True, note=LOOP_DEFAULT_GATE.format(metric=metric))


LOOP_DEFAULT_GATE = (
    "no 'gate:' section in forgeml.yaml, so the loop's default gate applies: {metric} must "
    "not be worse than the champion's beyond doubt on the same held-out rows (the 95% "
    "interval of the paired difference is not wholly below zero)"
)


def _text(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "n/a"


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (None if isinstance(v, float) and not np.isfinite(v) else v)
        for k, v in metrics.items()
        if k != "confusion_matrix"
    }
