"""Queries on ``pipeline_runs`` and ``pipeline_steps``: run history and the step cache.

A step's outputs are found again by its ``cache_key`` (a hash of everything it read), so
the cache is the newest succeeded step row with that key, whichever run wrote it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forgeml.errors import NotFound
from forgeml.store.models import PipelineRunRecord, PipelineStepRecord, utcnow

__all__ = [
    "cached_step",
    "finish_run",
    "finish_step",
    "get_run",
    "latest_runs",
    "start_run",
    "start_step",
]

_HEX = re.compile(r"^[0-9a-f]+$")
MIN_PREFIX = 6


def start_run(
    session: Session, run_id: str, pipeline: str, executor: str, options: dict[str, Any], by: str
) -> PipelineRunRecord:
    row = PipelineRunRecord(
        id=run_id,
        pipeline=pipeline,
        status="running",
        executor=executor,
        options=options,
        created_by=by,
        started_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def finish_run(session: Session, run_id: str, status: str, error: str | None = None) -> None:
    row = session.get(PipelineRunRecord, run_id)
    if row is None:
        raise NotFound(f"no pipeline run {run_id!r}", fix="run 'forgeml pipeline runs'")
    row.status = status
    row.error = error
    row.finished_at = utcnow()
    row.seconds = (row.finished_at - row.started_at).total_seconds()


def start_step(
    session: Session,
    run_id: str,
    step: str,
    uses: str,
    cache_key: str,
    inputs: dict[str, Any],
    *,
    status: str = "running",
    outputs: dict[str, Any] | None = None,
    started_at: datetime | None = None,
) -> int:
    row = PipelineStepRecord(
        run_id=run_id,
        step=step,
        uses=uses,
        cache_key=cache_key,
        status=status,
        attempts=0,
        inputs=inputs,
        outputs=outputs,
        started_at=started_at or utcnow(),
    )
    session.add(row)
    session.flush()
    if status != "running":
        row.finished_at = row.started_at
        row.seconds = 0.0
    return row.id


def finish_step(
    session: Session,
    step_id: int,
    status: str,
    *,
    attempts: int,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    row = session.get(PipelineStepRecord, step_id)
    if row is None:
        raise NotFound(f"no pipeline step row {step_id}", fix="run 'forgeml pipeline runs'")
    row.status = status
    row.attempts = attempts
    row.outputs = outputs
    row.error = error
    row.finished_at = utcnow()
    row.seconds = (row.finished_at - row.started_at).total_seconds()


def cached_step(session: Session, cache_key: str) -> PipelineStepRecord | None:
    """The newest step that succeeded with exactly these inputs, or None."""
    query = (
        select(PipelineStepRecord)
        .where(PipelineStepRecord.cache_key == cache_key, PipelineStepRecord.status == "succeeded")
        .order_by(PipelineStepRecord.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def latest_runs(
    session: Session, pipeline: str | None = None, limit: int = 20
) -> list[PipelineRunRecord]:
    query = select(PipelineRunRecord)
    if pipeline is not None:
        query = query.where(PipelineRunRecord.pipeline == pipeline)
    query = query.order_by(PipelineRunRecord.started_at.desc(), PipelineRunRecord.id)
    return list(session.scalars(query.limit(limit)))


def get_run(session: Session, run_id: str) -> PipelineRunRecord:
    """The pipeline run whose id is ``run_id`` or starts with it (6 characters at least)."""
    wanted = run_id.strip().lower()
    if not _HEX.match(wanted) or len(wanted) < MIN_PREFIX:
        raise NotFound(
            f"{run_id!r} is not a pipeline run id",
            fix=f"give the id or at least {MIN_PREFIX} of its first characters; "
            "run 'forgeml pipeline runs' to list them",
        )
    query = select(PipelineRunRecord).where(PipelineRunRecord.id.startswith(wanted)).limit(2)
    matches = list(session.scalars(query))
    if not matches:
        raise NotFound(
            f"no pipeline run with id {run_id!r}", fix="run 'forgeml pipeline runs' to list them"
        )
    if len(matches) > 1:
        raise NotFound(
            f"pipeline run id prefix {run_id!r} matches more than one run",
            fix="give more characters of the id",
        )
    return matches[0]
