"""How many bytes of the artifact store each kind of record holds (datasets, models, logs)."""

from __future__ import annotations

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from forgeml.store.models import (
    ArtifactRecord,
    DatasetVersionRecord,
    ModelVersionRecord,
    PredictionSegmentRecord,
    RunArtifactRecord,
)

__all__ = ["stored_bytes"]


def stored_bytes(session: Session) -> dict[str, tuple[int, int]]:
    """``{"datasets" | "models" | "logs": (artifacts, bytes)}``, each artifact counted once."""
    kinds = {
        "datasets": select(DatasetVersionRecord.artifact_sha256.label("sha")),
        "models": union(
            select(ModelVersionRecord.artifact_sha256.label("sha")),
            select(ModelVersionRecord.card_sha256.label("sha")).where(
                ModelVersionRecord.card_sha256.is_not(None)
            ),
            select(RunArtifactRecord.artifact_sha256.label("sha")),
        ),
        "logs": select(PredictionSegmentRecord.artifact_sha256.label("sha")),
    }
    found: dict[str, tuple[int, int]] = {}
    for kind, shas in kinds.items():
        distinct = shas.subquery()
        count, size = session.execute(
            select(func.count(), func.coalesce(func.sum(ArtifactRecord.size_bytes), 0)).where(
                ArtifactRecord.sha256.in_(select(distinct.c.sha).distinct())
            )
        ).one()
        found[kind] = (int(count), int(size))
    return found
