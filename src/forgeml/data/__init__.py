"""Datasets: sources, immutable content-addressed versions, schemas, profiles, validation."""

from forgeml.data.ingest import IngestResult, ingest, validate_source
from forgeml.data.validation import Violation
from forgeml.data.versions import DatasetSummary, DatasetVersion, dataset, list_datasets, versions

__all__ = [
    "DatasetSummary",
    "DatasetVersion",
    "IngestResult",
    "Violation",
    "dataset",
    "ingest",
    "list_datasets",
    "validate_source",
    "versions",
]
