"""Helpers shared by several test modules (importable because tests/ is on the pytest path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forgeml.store import MetadataStore
from forgeml.store import datasets as queries


def record_version(
    store: MetadataStore, name: str, digest: str, *, created_by: str = "tester"
) -> None:
    """Record a dataset version whose content hash is ``digest``, with placeholder metadata."""
    with store.write() as session:
        queries.add_version(
            session,
            name=name,
            content_hash=digest,
            artifact_sha256=digest,
            size_bytes=1,
            n_rows=1,
            n_columns=1,
            schema={"columns": []},
            profile={"rows": 1},
            source="test",
            created_by=created_by,
        )


BUCKET = "forgeml-artifacts-test"


@dataclass
class S3Server:
    endpoint: str
    client: Any  # boto3 S3 client, for writes that bypass the store

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "key": "test",
            "secret": "test",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }
        options.update(overrides)
        return options
