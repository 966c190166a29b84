"""Queries on datasets and their versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forgeml.errors import NotFound
from forgeml.store.models import ArtifactRecord, DatasetRecord, DatasetVersionRecord, utcnow
from forgeml.store.rows import insert_ignore, locked_parent, nearest_name, next_number

__all__ = [
    "DatasetSummary",
    "add_version",
    "find_by_content",
    "get_version",
    "list_datasets",
    "list_versions",
]


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    versions: int
    latest: int
    updated_at: datetime


def add_version(
    session: Session,
    *,
    name: str,
    content_hash: str,
    artifact_sha256: str,
    size_bytes: int,
    n_rows: int,
    n_columns: int,
    schema: dict[str, Any],
    profile: dict[str, Any],
    source: str,
    created_by: str,
) -> tuple[DatasetVersionRecord, bool]:
    """Record a version of ``name``; returns (version, created).

    The same content always maps to the same version: a second ingest of identical data
    returns the existing row with ``created=False``.
    """
    dataset = locked_parent(
        session, DatasetRecord, DatasetRecord.name, name, {"created_at": utcnow()}
    )
    existing = find_by_content(session, name, content_hash)
    if existing is not None:
        return existing, False
    insert_ignore(
        session,
        ArtifactRecord,
        {
            "sha256": artifact_sha256,
            "size_bytes": size_bytes,
            "kind": "dataset/parquet",
            "created_at": utcnow(),
        },
    )
    row = DatasetVersionRecord(
        dataset_id=dataset.id,
        version=next_number(
            session, DatasetVersionRecord.version, DatasetVersionRecord.dataset_id == dataset.id
        ),
        content_hash=content_hash,
        artifact_sha256=artifact_sha256,
        n_rows=n_rows,
        n_columns=n_columns,
        schema=schema,
        profile=profile,
        source=source,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row, True


def find_by_content(session: Session, name: str, content_hash: str) -> DatasetVersionRecord | None:
    """The version of ``name`` holding exactly this content, if any."""
    return session.scalars(
        select(DatasetVersionRecord)
        .join(DatasetRecord)
        .where(DatasetRecord.name == name, DatasetVersionRecord.content_hash == content_hash)
    ).one_or_none()


def get_version(session: Session, name: str, version: int | None = None) -> DatasetVersionRecord:
    """Version ``version`` of ``name``, or its latest when ``version`` is None."""
    named = select(DatasetRecord).where(DatasetRecord.name == name).limit(1)
    dataset = session.scalars(named).one_or_none()
    if dataset is None:
        near, _ = nearest_name(session, DatasetRecord.name, name)
        hint = f"did you mean '{near}'?" if near else "run 'forgeml datasets' to list them"
        raise NotFound(f"no dataset named '{name}'", fix=hint)
    query = select(DatasetVersionRecord).where(DatasetVersionRecord.dataset_id == dataset.id)
    if version is None:
        query = query.order_by(DatasetVersionRecord.version.desc())
    else:
        query = query.where(DatasetVersionRecord.version == version)
    row = session.scalars(query.limit(1)).one_or_none()
    if row is None:
        count = session.scalar(
            select(func.count()).where(DatasetVersionRecord.dataset_id == dataset.id)
        )
        raise NotFound(
            f"dataset '{name}' has no version {version}",
            fix=f"it has versions 1 to {count}; run 'forgeml datasets show {name}'",
        )
    return row


def list_versions(session: Session, name: str) -> list[DatasetVersionRecord]:
    get_version(session, name)  # raises NotFound with a suggestion
    return list(
        session.scalars(
            select(DatasetVersionRecord)
            .join(DatasetRecord)
            .where(DatasetRecord.name == name)
            .order_by(DatasetVersionRecord.version)
        )
    )


def list_datasets(session: Session) -> list[DatasetSummary]:
    rows = session.execute(
        select(
            DatasetRecord.name,
            func.count(DatasetVersionRecord.id),
            func.max(DatasetVersionRecord.version),
            func.max(DatasetVersionRecord.created_at),
        )
        .join(DatasetVersionRecord)
        .group_by(DatasetRecord.name)
        .order_by(DatasetRecord.name)
    ).all()
    return [DatasetSummary(name, count, latest, updated) for name, count, latest, updated in rows]
