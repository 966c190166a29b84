"""Dataset versions as users see them: look up, list, load."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from forgeml.names import MAX_VERSION, is_version_number, parse_version_number
from forgeml.names import check_dataset_name as check_name
from forgeml.names import parse_dataset_ref as parse_ref
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.store import DatasetVersionRecord
from forgeml.store import datasets as queries
from forgeml.store.datasets import DatasetSummary

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_VERSION",
    "DatasetSummary",
    "DatasetVersion",
    "check_name",
    "dataset",
    "is_version_number",
    "list_datasets",
    "parse_ref",
    "parse_version_number",
    "versions",
]


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset: its data, schema and profile."""

    name: str
    version: int
    content_hash: str
    artifact_sha256: str
    rows: int
    columns: int
    schema: dict[str, Any]
    profile: dict[str, Any]
    source: str
    created_by: str
    created_at: datetime
    project: Project = field(repr=False, compare=False)

    @property
    def ref(self) -> str:
        """``name@version``, the reference every command accepts."""
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        return f"<DatasetVersion {self.ref} {self.rows:,} rows × {self.columns} columns>"

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.schema["columns"]]

    def to_arrow(self) -> pa.Table:
        """The data, read from the artifact store after its sha256 is verified."""
        return pq.read_table(self.project.artifacts.local_path(self.artifact_sha256))

    def to_pandas(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    @classmethod
    def from_record(
        cls, record: DatasetVersionRecord, name: str, project: Project
    ) -> DatasetVersion:
        return cls(
            name=name,
            version=record.version,
            content_hash=record.content_hash,
            artifact_sha256=record.artifact_sha256,
            rows=record.n_rows,
            columns=record.n_columns,
            schema=record.schema,
            profile=record.profile,
            source=record.source,
            created_by=record.created_by,
            created_at=record.created_at,
            project=project,
        )


def dataset(ref: str, *, project: ProjectLike = None) -> DatasetVersion:
    """Look up ``name@version`` (or the latest version of ``name``)."""
    found = resolve_project(project)
    name, number = parse_ref(ref)
    with found.store.read() as session:
        record = queries.get_version(session, name, number)
        return DatasetVersion.from_record(record, name, found)


def versions(name: str, *, project: ProjectLike = None) -> list[DatasetVersion]:
    """Every version of dataset ``name``, oldest first."""
    found = resolve_project(project)
    with found.store.read() as session:
        return [
            DatasetVersion.from_record(r, name, found)
            for r in queries.list_versions(session, check_name(name))
        ]


def list_datasets(*, project: ProjectLike = None) -> list[DatasetSummary]:
    """Every dataset with its number of versions and latest version."""
    with resolve_project(project).store.read() as session:
        return queries.list_datasets(session)
