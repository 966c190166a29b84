"""The champion on the candidate's held-out rows, limited to rows it never trained on.

A candidate's test rows may include rows the champion learnt from (a newer dataset version
usually repeats the older one), where the champion would look better than it is. Both are
therefore scored only on the rows neither trained on; when none are left, the comparison
fails and says so rather than favouring either model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.config import TrainSpec
from forgeml.errors import DataError, ForgemlError, NotFound
from forgeml.project import Project
from forgeml.registry import load_bundle, model_version
from forgeml.training.evaluation import CHAMPION, score
from forgeml.training.predict import Predictor
from forgeml.training.task import TargetInfo
from forgeml.training.unseen import unseen_by

__all__ = ["champion_metrics"]


def champion_metrics(
    project: Project,
    name: str,
    rows: pa.Table,
    y: np.ndarray,
    info: TargetInfo,
    spec: TrainSpec,
    *,
    scores: np.ndarray,
    threshold: float | None,
    skip_version: int | None = None,
) -> dict[str, Any] | None:
    """The champion's metrics on those of ``rows`` it never trained on; None without one.

    ``scores`` are the candidate's on ``rows``: its metrics on the same subset are returned
    under ``"candidate"``, with the number of rows compared under ``"rows"``. A comparison
    that cannot be made carries ``"error"``, a sentence saying why.
    """
    try:
        champion = model_version(f"{name}@{CHAMPION}", project=project)
    except NotFound:
        return None
    if champion.version == skip_version:
        return None  # a version is not compared with itself
    found: dict[str, Any] = {"version": champion.version}
    try:
        fresh = unseen_by(rows, [champion], project)
    except ForgemlError as e:
        fresh = np.ones(rows.num_rows, dtype=bool)
        found["note"] = f"compared on all held-out rows: {e.message}"
    if not fresh.any():
        return found | {
            "rows": 0,
            "error": f"the champion (v{champion.version}) trained on all "
            f"{rows.num_rows} held-out rows, so no row is left that neither model saw",
            "fix": "train on a dataset version with rows the champion has not seen",
        }
    if not fresh.all():
        found["note"] = (
            f"compared on the {int(fresh.sum())} of {rows.num_rows} held-out rows "
            "the champion did not train on"
        )
    subset = rows.filter(pa.array(fresh))
    predictor = Predictor(load_bundle(champion.artifact_sha256, project.artifacts))
    try:
        theirs = predictor.scores(subset)
    except DataError as e:  # e.g. it reads a column this data no longer has
        return found | {"error": f"the champion could not score these rows: {e.message}"}
    candidate = score(info, scores[fresh], y[fresh], threshold, spec)
    champion_scored = score(info, theirs, y[fresh], predictor.threshold, spec)
    return champion_scored | found | {"rows": int(fresh.sum()), "candidate": candidate}
