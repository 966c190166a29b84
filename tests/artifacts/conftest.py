"""Artifact store backends under test: a local folder, fsspec memory://, and S3 (moto server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pytest

from forgeml.artifacts import ArtifactStore, FsspecArtifactStore, LocalArtifactStore

BUCKET = "forgeml-artifacts-test"


@dataclass
class Backend:
    """A store plus a way to write raw bytes below its root, bypassing the store."""

    name: str
    store: ArtifactStore
    raw_write: Callable[[str, bytes], None]


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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        import boto3
        import s3fs  # noqa: F401  (the store needs it)
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        pytest.skip(f"S3 backend tests need moto[server], boto3 and s3fs ({e}); install '.[dev]'")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3Server(endpoint=endpoint, client=client)
    finally:
        client.close()
        server.stop()


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
