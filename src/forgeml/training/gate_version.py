"""``forgeml gate``: check a registered model version against the project's gate.

The version's test rows are rebuilt from its training run (same dataset version, split
settings and seed give the same rows), so the candidate and the current champion are
compared on the same held-out data the candidate never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import TrainSpec
from forgeml.data import dataset
from forgeml.errors import ForgemlError
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry import ModelVersion, load_bundle, model_version
from forgeml.training.evaluation import champion_metrics, encode_target, score
from forgeml.training.gates import GateResult, evaluate_gate
from forgeml.training.predict import Predictor
from forgeml.training.slices import slice_metrics
from forgeml.training.splits import make_split
from forgeml.training.task import infer_task
from forgeml.training.tracking import get_run

__all__ = ["GateReport", "gate"]


@dataclass(frozen=True)
class GateReport:
    version: ModelVersion
    result: GateResult
    metrics: dict[str, Any]
    champion: dict[str, Any] | None


def gate(ref: str, *, project: ProjectLike = None) -> GateReport:
    """Evaluate ``ref`` (``name@N``, ``name@alias``) on its held-out rows against the gate."""
    found = resolve_project(project)
    version = model_version(ref, project=found)
    if not version.run_id:
        raise ForgemlError(
            f"{version.ref} was registered without a training run, so its "
            "held-out rows are unknown",
            fix="gate a version trained by forgeml",
        )
    run = get_run(version.run_id, project=found)
    if "train" not in run.params:
        raise ForgemlError(
            f"{version.ref} comes from run {run.id[:8]}, which was not a 'forgeml train' run, "
            "so its held-out rows are unknown",
            fix="gate a version trained by 'forgeml train'",
        )
    spec = TrainSpec.model_validate(run.params["train"])
    data = dataset(str(version.lineage["dataset"]), project=found)
    table = data.to_arrow()
    info = infer_task(table, version.signature.get("target") or spec.target, spec.task)
    table = table.filter(pc.is_valid(table.column(info.column)))
    y = encode_target(table, info)
    rows = make_split(table, spec.split, info, seed=spec.seed).test
    test_rows = table.take(pa.array(rows))
    predictor = Predictor(load_bundle(version.artifact_sha256, found.artifacts))
    scores = predictor.scores(test_rows)
    metrics = score(info, scores, y[rows], predictor.threshold, spec)
    champion = champion_metrics(found, version.name, test_rows, y[rows], info, spec)
    if champion is not None and champion.get("version") == version.version:
        champion = None  # a version is not compared with itself
    slices = slice_metrics(
        {
            c: np.asarray(test_rows.column(c).to_pylist(), dtype=object)
            for c in spec.slices
            if c in test_rows.column_names
        },
        lambda idx: score(info, scores[idx], y[rows][idx], predictor.threshold, spec),
    )
    result = evaluate_gate(found.spec.gate, metrics, champion=champion, slices=slices)
    return GateReport(version, result, metrics, champion)
