"""``forgeml gate``: check a registered model version against the project's gate.

The version's test rows are rebuilt from its training run (same dataset version, split
settings and seed give the same rows), so the candidate and the current champion are
compared on the held-out data the candidate never saw, limited to rows the champion never
trained on either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forgeml.project import ProjectLike, resolve_project
from forgeml.registry import ModelVersion, load_bundle, model_version
from forgeml.training import metrics as m
from forgeml.training.baseline import baseline_metrics
from forgeml.training.champion import champion_metrics
from forgeml.training.evaluation import score
from forgeml.training.gates import GateResult, evaluate_gate
from forgeml.training.predict import Predictor
from forgeml.training.slices import slice_metrics
from forgeml.training.version_rows import version_rows

__all__ = ["GateReport", "gate"]


@dataclass(frozen=True)
class GateReport:
    version: ModelVersion
    result: GateResult
    metrics: dict[str, Any]
    champion: dict[str, Any] | None


def gate(
    ref: str,
    *,
    trust_code: bool = False,
    trust_reason: str | None = None,
    project: ProjectLike = None,
) -> GateReport:
    """Evaluate ``ref`` (``name@N``, ``name@alias``) on its held-out rows against the gate.

    ``trust_code=True`` with ``trust_reason`` admits the code a Keras Lambda layer or
    ``.h5`` file in the version holds, so it can predict; the grant is audited.
    """
    found = resolve_project(project)
    version = model_version(ref, project=found)
    if trust_code:
        from forgeml.registry.code_trust import trust_code as grant_trust

        grant_trust(version.ref, reason=trust_reason or "", action="gate", project=found)
    known = version_rows(version, found)
    info, spec, rows = known.info, known.spec, known.split.test
    y = known.y[rows]
    test_rows = known.take(rows)
    predictor = Predictor(load_bundle(version.artifact_sha256, found.artifacts))
    scores = predictor.scores(test_rows)
    metrics = score(info, scores, y, predictor.threshold, spec)
    champion = champion_metrics(
        found,
        version.name,
        test_rows,
        y,
        info,
        spec,
        scores=scores,
        threshold=predictor.threshold,
        skip_version=version.version,
    )
    slices = slice_metrics(
        {
            c: np.asarray(test_rows.column(c).to_pylist(), dtype=object)
            for c in spec.slices
            if c in test_rows.column_names
        },
        lambda idx: score(info, scores[idx], y[idx], predictor.threshold, spec),
    )
    result = evaluate_gate(
        found.spec.gate,
        metrics,
        champion=champion,
        slices=slices,
        baseline=baseline_metrics(info, known.y[known.split.train], y, spec),
        metric=spec.metric or m.DEFAULT_METRIC[info.task],
    )
    return GateReport(version, result, metrics, champion)
