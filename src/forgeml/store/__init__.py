"""The metadata store: datasets, versions and everything else forgeml records."""

from forgeml.store.engine import display_url
from forgeml.store.metastore import MetadataStore
from forgeml.store.models import ArtifactRecord, Base, DatasetRecord, DatasetVersionRecord

__all__ = [
    "ArtifactRecord",
    "Base",
    "DatasetRecord",
    "DatasetVersionRecord",
    "MetadataStore",
    "display_url",
]
