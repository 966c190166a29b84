"""Artifact store backends under test: a local folder, fsspec memory://, and S3 (moto server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pytest

from forgeml.artifacts import ArtifactStore, FsspecArtifactStore, LocalArtifactStore
from support import BUCKET, S3Server


@dataclass
class Backend:
    """A store plus a way to write raw bytes below its root, bypassing the store."""

    name: str
    store: ArtifactStore
    raw_write: Callable[[str, bytes], None]


def _local(tmp_path: Path) -> Backend:
    root = tmp_path / "store"
    store = LocalArtifactStore(root)

    def raw_write(key: str, data: bytes) -> None:
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    return Backend("local", store, raw_write)


def _memory(tmp_path: Path) -> Backend:
    name = f"forgeml-test-{uuid.uuid4().hex}"
    store = FsspecArtifactStore(f"memory://{name}", cache_dir=tmp_path / "cache")
    memory = fsspec.filesystem("memory")

    def raw_write(key: str, data: bytes) -> None:
        memory.pipe_file(f"/{name}/{key}", data)

    return Backend("memory", store, raw_write)


def _s3(tmp_path: Path, server: S3Server) -> Backend:
    prefix = f"runs/{uuid.uuid4().hex}"
    store = FsspecArtifactStore(
        f"s3://{BUCKET}/{prefix}",
        cache_dir=tmp_path / "cache",
        storage_options=server.storage_options(),
    )

    def raw_write(key: str, data: bytes) -> None:
        server.client.put_object(Bucket=BUCKET, Key=f"{prefix}/{key}", Body=data)

    return Backend("s3", store, raw_write)


@pytest.fixture(params=["local", "memory", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return _local(tmp_path)
    if request.param == "memory":
        return _memory(tmp_path)
    return _s3(tmp_path, request.getfixturevalue("s3_server"))


@pytest.fixture
def store(backend: Backend) -> ArtifactStore:
    return backend.store
