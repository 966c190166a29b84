"""Queries on models, model versions, aliases and the audit trail of alias moves."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forgeml.errors import NotFound
from forgeml.store.models import (
    AliasEventRecord,
    AliasRecord,
    ArtifactRecord,
    ModelRecord,
    ModelVersionRecord,
    RunArtifactRecord,
    utcnow,
)
from forgeml.store.rows import insert_ignore, locked_parent, nearest_name, next_number

__all__ = [
    "ModelSummary",
    "add_alias_event",
    "add_version",
    "alias_count",
    "alias_events",
    "alias_not_found",
    "aliases",
    "get_model",
    "get_version",
    "list_models",
    "list_versions",
    "run_artifacts",
    "set_alias",
    "version_number",
]


@dataclass(frozen=True)
class ModelSummary:
    name: str
    versions: int
    latest: int
    aliases: dict[str, int]  # alias -> version
    updated_at: datetime


def add_version(
    session: Session,
    *,
    name: str,
    flavor: str,
    artifact_sha256: str,
    signature: dict[str, Any],
    metrics: dict[str, Any],
    lineage: dict[str, Any],
    card_sha256: str | None,
    run_id: str | None,
    created_by: str,
    artifacts: Iterable[tuple[str, int, str]],
) -> ModelVersionRecord:
    """Record the next version of model ``name`` and its ``(sha256, size, kind)`` artifacts.

    The model row stays locked until commit, so concurrent registrations get consecutive
    numbers with no gaps and no duplicates.
    """
    model = locked_parent(session, ModelRecord, ModelRecord.name, name, {"created_at": utcnow()})
    for sha256, size, kind in artifacts:
        insert_ignore(
            session,
            ArtifactRecord,
            {"sha256": sha256, "size_bytes": size, "kind": kind, "created_at": utcnow()},
        )
    row = ModelVersionRecord(
        model_id=model.id,
        version=next_number(
            session, ModelVersionRecord.version, ModelVersionRecord.model_id == model.id
        ),
        run_id=run_id,
        flavor=flavor,
        artifact_sha256=artifact_sha256,
        signature=signature,
        metrics=metrics,
        lineage=lineage,
        card_sha256=card_sha256,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get_model(session: Session, name: str, *, lock: bool = False) -> ModelRecord:
    """The model called ``name`` (row-locked until commit with ``lock``); NotFound if none."""
    query = select(ModelRecord).where(ModelRecord.name == name).limit(1)
    model = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if model is None:
        near, any_model = nearest_name(session, ModelRecord.name, name)
        if near:
            hint = f"did you mean '{near}'?"
        elif any_model:
            hint = "run 'forgeml models' to list them"
        else:
            hint = "register one first: 'forgeml register RUN_ID' or forgeml.register_model()"
        raise NotFound(f"no model named '{name}'", fix=hint)
    return model


def get_version(
    session: Session, model: ModelRecord, selector: int | str | None = None
) -> ModelVersionRecord:
    """Version ``selector`` (a number or an alias) of ``model``; its newest for None."""
    query = select(ModelVersionRecord).where(ModelVersionRecord.model_id == model.id)
    if selector is None:
        query = query.order_by(ModelVersionRecord.version.desc())
    elif isinstance(selector, int):
        query = query.where(ModelVersionRecord.version == selector)
    else:
        query = query.join(
            AliasRecord, AliasRecord.model_version_id == ModelVersionRecord.id
        ).where(AliasRecord.model_id == model.id, AliasRecord.alias == selector)
    row = session.scalars(query.limit(1)).one_or_none()
    if row is not None:
        return row
    if isinstance(selector, str):
        raise alias_not_found(session, model, selector)
    count = session.scalar(
        select(func.max(ModelVersionRecord.version)).where(ModelVersionRecord.model_id == model.id)
    )
    raise NotFound(
        f"model '{model.name}' has no version {selector}",
        fix=f"it has versions 1 to {count}; run 'forgeml models {model.name}'",
    )


def alias_not_found(session: Session, model: ModelRecord, alias: str) -> NotFound:
    held = aliases(session, model.id)
    if not held:
        return NotFound(
            f"model '{model.name}' has no alias '{alias}'",
            fix=f"it has no aliases yet: run 'forgeml promote {model.name}@N --alias {alias} "
            "--reason TEXT'",
        )
    near = difflib.get_close_matches(alias, list(held), n=1)
    listing = ", ".join(f"{a} (@{v})" for a, v in held.items())
    hint = f"did you mean '{near[0]}'? " if near else ""
    return NotFound(
        f"model '{model.name}' has no alias '{alias}'",
        fix=f"{hint}its aliases are: {listing}",
    )


def aliases(
    session: Session, model_id: int, *, version: int | None = None, limit: int | None = None
) -> dict[str, int]:
    """The model's aliases (those on ``version`` only) and the version each is on, by name.

    With ``limit``, the first ``limit`` aliases by name; :func:`alias_count` counts them all.
    """
    query = (
        select(AliasRecord.alias, ModelVersionRecord.version)
        .join(ModelVersionRecord, AliasRecord.model_version_id == ModelVersionRecord.id)
        .where(AliasRecord.model_id == model_id)
        .order_by(AliasRecord.alias)
    )
    if version is not None:
        query = query.where(ModelVersionRecord.version == version)
    rows = session.execute(query if limit is None else query.limit(limit)).all()
    return {row[0]: row[1] for row in rows}


def alias_count(session: Session, model_id: int, *, version: int | None = None) -> int:
    """How many aliases the model holds (on ``version`` only)."""
    query = select(func.count()).select_from(AliasRecord).where(AliasRecord.model_id == model_id)
    if version is not None:
        query = query.join(
            ModelVersionRecord, AliasRecord.model_version_id == ModelVersionRecord.id
        ).where(ModelVersionRecord.version == version)
    return int(session.scalar(query) or 0)


def list_versions(session: Session, model: ModelRecord) -> list[ModelVersionRecord]:
    return list(
        session.scalars(
            select(ModelVersionRecord)
            .where(ModelVersionRecord.model_id == model.id)
            .order_by(ModelVersionRecord.version)
        )
    )


def list_models(session: Session) -> list[ModelSummary]:
    rows = session.execute(
        select(
            ModelRecord.id,
            ModelRecord.name,
            func.count(ModelVersionRecord.id),
            func.max(ModelVersionRecord.version),
            func.max(ModelVersionRecord.created_at),
        )
        .join(ModelVersionRecord)
        .group_by(ModelRecord.id, ModelRecord.name)
        .order_by(ModelRecord.name)
    ).all()
    held: dict[int, dict[str, int]] = {}
    for model_id, alias, version in session.execute(
        select(AliasRecord.model_id, AliasRecord.alias, ModelVersionRecord.version)
        .join(ModelVersionRecord, AliasRecord.model_version_id == ModelVersionRecord.id)
        .order_by(AliasRecord.alias)
    ):
        held.setdefault(model_id, {})[alias] = version
    return [
        ModelSummary(name, count, latest, held.get(model_id, {}), updated)
        for model_id, name, count, latest, updated in rows
    ]


def set_alias(session: Session, model: ModelRecord, alias: str, target: ModelVersionRecord) -> None:
    """Point ``alias`` at ``target``; call with the model row locked (see get_model)."""
    row = session.get(AliasRecord, (model.id, alias))
    if row is None:
        session.add(
            AliasRecord(
                model_id=model.id, alias=alias, model_version_id=target.id, updated_at=utcnow()
            )
        )
    else:
        row.model_version_id = target.id
        row.updated_at = utcnow()
    session.flush()


def add_alias_event(
    session: Session,
    model: ModelRecord,
    alias: str,
    *,
    action: str,
    from_version: int | None,
    to_version: int | None,
    actor: str,
    reason: str,
    gate: dict[str, Any] | None,
) -> AliasEventRecord:
    row = AliasEventRecord(
        model_id=model.id,
        alias=alias,
        action=action,
        from_version=from_version,
        to_version=to_version,
        actor=actor,
        reason=reason,
        gate=gate,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def alias_events(
    session: Session, model: ModelRecord, alias: str | None = None
) -> list[AliasEventRecord]:
    """The model's alias moves (of one alias, or of all), oldest first."""
    query = select(AliasEventRecord).where(AliasEventRecord.model_id == model.id)
    if alias is not None:
        query = query.where(AliasEventRecord.alias == alias)
    return list(session.scalars(query.order_by(AliasEventRecord.id)))


def run_artifacts(session: Session, run_id: str) -> dict[str, str]:
    """The run's named artifacts: name -> sha256."""
    rows = session.execute(
        select(RunArtifactRecord.name, RunArtifactRecord.artifact_sha256)
        .where(RunArtifactRecord.run_id == run_id)
        .order_by(RunArtifactRecord.name)
    ).all()
    return {row[0]: row[1] for row in rows}


def version_number(session: Session, version_id: int) -> int:
    """The version number of the model-version row ``version_id``."""
    number = session.scalar(
        select(ModelVersionRecord.version).where(ModelVersionRecord.id == version_id).limit(1)
    )
    if number is None:
        raise NotFound(f"model version row {version_id} does not exist")
    return int(number)
