"""The metadata store: datasets, versions and everything else forgeml records.

Its names load SQLAlchemy on first use, so a command that only reads a few rows through
:mod:`forgeml.store.ledger` (a pipeline re-run that reuses every step) never imports it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forgeml.store.engine import display_url
    from forgeml.store.metastore import MetadataStore
    from forgeml.store.models import (
        ArtifactRecord,
        Base,
        DatasetRecord,
        DatasetVersionRecord,
    )

__all__ = [
    "ArtifactRecord",
    "Base",
    "DatasetRecord",
    "DatasetVersionRecord",
    "MetadataStore",
    "display_url",
]

_HOMES = {
    "ArtifactRecord": "forgeml.store.models",
    "Base": "forgeml.store.models",
    "DatasetRecord": "forgeml.store.models",
    "DatasetVersionRecord": "forgeml.store.models",
    "MetadataStore": "forgeml.store.metastore",
    "display_url": "forgeml.store.engine",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'forgeml.store' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
