"""Queries on the index of prediction-log segments (predictions and feedback labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.store.models import ArtifactRecord, PredictionSegmentRecord, utcnow
from forgeml.store.rows import insert_ignore

__all__ = ["KINDS", "SegmentKind", "add_segment", "find_segments"]

SegmentKind = Literal["predictions", "feedback"]
KINDS: tuple[SegmentKind, ...] = ("predictions", "feedback")


def add_segment(
    session: Session,
    *,
    model: str,
    kind: SegmentKind,
    artifact_sha256: str,
    size_bytes: int,
    rows: int,
    first_time: datetime,
    last_time: datetime,
    writer: str,
) -> None:
    """Index a stored segment of ``model``'s log.

    Indexing the same bytes twice for the same model and kind is a no-op, so retrying a
    write whose outcome was unknown never duplicates rows.
    """
    insert_ignore(
        session,
        ArtifactRecord,
        {
            "sha256": artifact_sha256,
            "size_bytes": size_bytes,
            "kind": f"{kind}/parquet",
            "created_at": utcnow(),
        },
    )
    insert_ignore(
        session,
        PredictionSegmentRecord,
        {
            "model": model,
            "kind": kind,
            "artifact_sha256": artifact_sha256,
            "rows": rows,
            "first_time": first_time,
            "last_time": last_time,
            "writer": writer,
            "created_at": utcnow(),
        },
    )


def find_segments(
    session: Session,
    model: str,
    kind: SegmentKind,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[PredictionSegmentRecord]:
    """Segments of ``model`` holding rows timed in ``[start, end)``, oldest written first."""
    query = select(PredictionSegmentRecord).where(
        PredictionSegmentRecord.model == model, PredictionSegmentRecord.kind == kind
    )
    if start is not None:
        query = query.where(PredictionSegmentRecord.last_time >= start)
    if end is not None:
        query = query.where(PredictionSegmentRecord.first_time < end)
    return list(session.scalars(query.order_by(PredictionSegmentRecord.id)))
