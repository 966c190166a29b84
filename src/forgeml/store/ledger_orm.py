"""The pipeline ledger on the metadata store's own sessions (any backend)."""

from __future__ import annotations

from typing import Any

from forgeml.store import datasets as dataset_queries
from forgeml.store import pipelines as queries
from forgeml.store import registry as registry_queries
from forgeml.store.ledger import CachedStep, PipelineLedger
from forgeml.store.metastore import MetadataStore

__all__ = ["StoreLedger"]


class StoreLedger(PipelineLedger):
    """Each call is one read or write transaction of ``store``."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def start_run(
        self, run_id: str, pipeline: str, executor: str, options: dict[str, Any], by: str
    ) -> None:
        with self.store.write() as session:
            queries.start_run(session, run_id, pipeline, executor, options, by)

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        with self.store.write() as session:
            queries.finish_run(session, run_id, status, error)

    def cached_step(self, cache_key: str) -> CachedStep | None:
        with self.store.read() as session:
            hit = queries.cached_step(session, cache_key)
            return None if hit is None else CachedStep(dict(hit.outputs or {}), hit.run_id)

    def start_step(
        self,
        run_id: str,
        step: str,
        uses: str,
        cache_key: str,
        inputs: dict[str, Any],
        *,
        status: str = "running",
        outputs: dict[str, Any] | None = None,
    ) -> int:
        with self.store.write() as session:
            return queries.start_step(
                session, run_id, step, uses, cache_key, inputs, status=status, outputs=outputs
            )

    def finish_step(
        self,
        step_id: int,
        status: str,
        *,
        attempts: int,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self.store.write() as session:
            queries.finish_step(
                session, step_id, status, attempts=attempts, outputs=outputs, error=error
            )

    def dataset_version(self, name: str, version: int | None) -> tuple[int, str]:
        with self.store.read() as session:
            record = dataset_queries.get_version(session, name, version)
            return record.version, record.content_hash

    def model_version(self, name: str, selector: int | str | None) -> tuple[int, str]:
        with self.store.read() as session:
            model = registry_queries.get_model(session, name)
            record = registry_queries.get_version(session, model, selector)
            return record.version, record.artifact_sha256
