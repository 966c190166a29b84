"""The pipeline ledger: where pipeline runs are recorded and cached steps are found.

A pipeline run reads little from the metadata store (a cached step by its key, the newest
version of a dataset or model) and writes a row per run and per step. On a SQLite store
those few statements run on the standard library's ``sqlite3``
(:class:`~forgeml.store.ledger_sqlite.SqliteLedger`), so a re-run that reuses every step
never imports SQLAlchemy; on any other store, through the store's own sessions
(:class:`~forgeml.store.ledger_orm.StoreLedger`). Both write the same rows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forgeml.store.metastore import MetadataStore

__all__ = ["CachedStep", "PipelineLedger", "open_ledger"]


@dataclass(frozen=True)
class CachedStep:
    """The stored outputs of a step that succeeded, and the run that wrote them."""

    outputs: dict[str, Any]
    run_id: str


class PipelineLedger(ABC):
    """Pipeline run records, the step cache and the version look-ups fingerprints need."""

    @abstractmethod
    def start_run(
        self, run_id: str, pipeline: str, executor: str, options: dict[str, Any], by: str
    ) -> None: ...

    @abstractmethod
    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None: ...

    @abstractmethod
    def cached_step(self, cache_key: str) -> CachedStep | None:
        """The newest step that succeeded with exactly these inputs, or None."""

    @abstractmethod
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
        """Record a step; one not ``running`` is finished at once. Returns its row id."""

    @abstractmethod
    def finish_step(
        self,
        step_id: int,
        status: str,
        *,
        attempts: int,
        outputs: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None: ...

    @abstractmethod
    def dataset_version(self, name: str, version: int | None) -> tuple[int, str]:
        """(number, content hash) of version ``version`` of dataset ``name`` (None: newest);
        NotFound when there is none."""

    @abstractmethod
    def model_version(self, name: str, selector: int | str | None) -> tuple[int, str]:
        """(number, bundle sha256) of model ``name``'s version ``selector`` (a number, an
        alias, or None for the newest); NotFound when there is none."""

    def close(self) -> None:  # noqa: B027 (a ledger on the store's sessions holds nothing)
        """Release what the ledger holds of its own."""


def open_ledger(url: str, store: Callable[[], MetadataStore]) -> PipelineLedger:
    """The ledger for the metadata store at ``url``; ``store`` opens the full store (it
    creates or upgrades the schema) when the plain SQLite ledger cannot be used as it is."""
    from forgeml.store.ledger_sqlite import SqliteLedger, sqlite_path

    path = sqlite_path(url)
    if path is not None:
        ledger = SqliteLedger.open(path, store)
        if ledger is None:  # new or older schema: the store creates or upgrades it
            store()
            ledger = SqliteLedger.open(path, store)
        if ledger is not None:
            return ledger
    from forgeml.store.ledger_orm import StoreLedger

    return StoreLedger(store())
