"""Register the model a training run produced, from the artifacts the run recorded.

A run hands a model to the registry through these named run artifacts:

===========================  =======================================================
``model/bundle``             the bundle manifest (its sha256 is the bundle id)
``model/signature.json``     JSON object: the inputs the model expects
``model/metrics.json``       JSON object: the evaluation metrics
``model/lineage.json``       JSON object: dataset ref, run id, code version, ...
``model/card.html``          optional: the model card
===========================  =======================================================
"""

from __future__ import annotations

import json
from typing import Any

from forgeml.errors import ArtifactError, ForgemlError
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.versions import ModelVersion, register_model
from forgeml.store import registry as queries
from forgeml.store import runs as run_queries

__all__ = ["RUN_BUNDLE", "RUN_CARD", "RUN_DOCUMENTS", "register_run"]

RUN_BUNDLE = "model/bundle"
RUN_CARD = "model/card.html"
RUN_DOCUMENTS = {
    "signature": "model/signature.json",
    "metrics": "model/metrics.json",
    "lineage": "model/lineage.json",
}


def register_run(
    run_id: str, *, name: str | None = None, project: ProjectLike = None
) -> ModelVersion:
    """Register the model of run ``run_id`` as a new version of ``name``.

    ``name`` defaults to the run's experiment. The bundle, signature, metrics and lineage
    are required run artifacts (see the module docstring); the model card is optional.
    """
    found = resolve_project(project)
    with found.store.read() as session:
        run = run_queries.get_run(session, run_id)  # a unique prefix is enough
        run_id, experiment, status = run.id, run.experiment, run.status
        named = queries.run_artifacts(session, run_id)
        gate = (run.tags or {}).get("gate")
    if status == "failed":
        raise ForgemlError(
            f"run {run_id} failed, so it has no model to register",
            fix="register a run that finished",
        )
    if gate == "failed":
        raise ForgemlError(
            f"run {run_id} produced a model that failed its gate, so it is not registered",
            fix="see 'forgeml runs show' for the failed checks; retrain, or relax the gate in "
            "forgeml.yaml if the bound was wrong",
        )
    missing = [key for key in (RUN_BUNDLE, *RUN_DOCUMENTS.values()) if key not in named]
    if missing:
        has = ", ".join(sorted(named)) or "none"
        raise ArtifactError(
            f"run {run_id} has no {', '.join(missing)} artifact (it has: {has})",
            fix="train with forgeml, which records the model and its signature, metrics and "
            "lineage, or register the bundle with forgeml.register_model()",
        )
    documents = {
        key: _json_object(found.artifacts.get_bytes(named[artifact]), run_id, artifact)
        for key, artifact in RUN_DOCUMENTS.items()
    }
    card = found.artifacts.get_bytes(named[RUN_CARD]) if RUN_CARD in named else None
    return register_model(
        name or experiment,
        named[RUN_BUNDLE],
        signature=documents["signature"],
        metrics=documents["metrics"],
        lineage=documents["lineage"],
        run_id=run_id,
        card_html=card,
        project=found,
    )


def _json_object(data: bytes, run_id: str, artifact: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise ArtifactError(
            f"artifact {artifact} of run {run_id} is not a JSON object",
            fix=f"record {artifact} as the UTF-8 JSON of a mapping",
        )
    return value
