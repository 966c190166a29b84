"""The reference profile of each model version, fitted once on its training data and stored.

The reference is fitted from the dataset version the model was trained on (its
signature's ``dataset``) over the model's inputs, with the model's own scores on up to
:data:`SCORE_ROWS` of those rows as the reference for prediction drift. It is stored in the
artifact store under ``references/<model>/<version>.json`` and loaded from there next time
(training stores it at registration; a version registered another way gets it on first
use).
"""

from __future__ import annotations

import json

import pyarrow as pa

from forgeml.data.versions import dataset
from forgeml.errors import ArtifactNotFound, NotFound
from forgeml.monitor.reference import ReferenceProfile, fit_reference
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.versions import ModelVersion, load_model
from forgeml.training.predict import Predictor

__all__ = ["SCORE_ROWS", "reference_for", "store_reference"]

SCORE_ROWS = 50_000


def _key(version: ModelVersion) -> str:
    return f"references/{version.name}/{version.version}.json"


def store_reference(
    version: ModelVersion, *, project: ProjectLike = None, table: pa.Table | None = None
) -> ReferenceProfile:
    """Fit and store ``version``'s reference profile (from ``table`` or its training data)."""
    found = resolve_project(project)
    if table is None:
        ref = version.signature.get("dataset")
        if not ref:
            raise NotFound(
                f"{version.ref} does not record the dataset it was trained on",
                fix="fit a reference with store_reference(version, table=training_rows)",
            )
        table = dataset(str(ref), project=found).to_arrow()
        if version.lineage.get("features"):  # trained on a feature service: rebuild its inputs
            from forgeml.featurestore.training import rejoin_features

            table = rejoin_features(found, table, version.lineage["features"])
    inputs = [c for c in version.signature.get("inputs", []) if c.get("name") in table.schema.names]
    _, bundle = load_model(version.ref, project=found)
    rows = table.slice(0, min(SCORE_ROWS, table.num_rows))
    scores = Predictor(bundle).scores(rows)
    if scores.ndim == 2:  # multiclass: the top class's probability, as the log keeps it
        scores = scores.max(axis=1)
    reference = fit_reference(table, inputs, scores=scores)
    document = json.dumps(reference.to_dict(), allow_nan=False).encode()
    found.artifacts.put_named(_key(version), document)
    return reference


def reference_for(version: ModelVersion, *, project: ProjectLike = None) -> ReferenceProfile:
    """``version``'s stored reference profile (fitted and stored now if it has none)."""
    found = resolve_project(project)
    try:
        data = found.artifacts.get_named(_key(version))
    except ArtifactNotFound:
        return store_reference(version, project=found)
    return ReferenceProfile.from_dict(json.loads(data))
