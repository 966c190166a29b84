"""FsspecArtifactStore specifics: URLs, missing extras, secrets, the download cache."""

from __future__ import annotations

import hashlib
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
import pytest
from fsspec.registry import _registry as fsspec_registry

from forgeml.artifacts import FsspecArtifactStore, open_artifact_store
from forgeml.artifacts import remote as remote_module
from forgeml.artifacts.urls import redact_url
from forgeml.errors import ArtifactError, ArtifactNotFound, ConfigError, MissingDependency

if TYPE_CHECKING:
    from conftest import S3Server

SECRET_KEY = "AKIAEXAMPLEKEY0000"
SECRET = "wJalrXUtnFEMI-super-secret-value"


def memory_url() -> str:
    return f"memory://forgeml-test-{uuid.uuid4().hex}"


def test_open_artifact_store_picks_fsspec(tmp_path: Path) -> None:
    url = memory_url()
    store = open_artifact_store(url, cache_dir=tmp_path)
    assert isinstance(store, FsspecArtifactStore)
    assert store.url == url
    digest = store.put_bytes(b"x")
    assert store.local_path(digest).is_relative_to(tmp_path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nope://bucket/x", "unknown protocol 'nope'"),
        ("simplecache::s3://bucket/x", "chains filesystems"),
        ("s3://", "names no bucket"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        open_artifact_store(url)
    assert info.value.fix


def test_fsspec_store_refuses_local_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LocalArtifactStore"):
        FsspecArtifactStore(tmp_path.as_uri())
    with pytest.raises(ConfigError, match="no protocol"):
        FsspecArtifactStore(str(tmp_path))


@pytest.mark.parametrize(
    ("url", "package", "extra"),
    [("gs://bucket/x", "gcsfs", "gcs"), ("az://container/x", "adlfs", "azure")],
)
def test_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, url: str, package: str, extra: str
) -> None:
    protocol = url.split(":")[0]
    monkeypatch.delitem(fsspec_registry, protocol, raising=False)
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(MissingDependency) as info:
        open_artifact_store(url)
    error = info.value
    assert (error.package, error.extra) == (package, extra)
    assert error.fix == f"pip install 'forgeml[{extra}]'"
    assert f"{protocol}://" in error.message


def test_missing_s3fs_names_the_s3_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(fsspec_registry, "s3", raising=False)
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependency) as info:
        open_artifact_store("s3://bucket/prefix")
    assert info.value.extra == "s3"


def test_missing_package_outside_the_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(fsspec_registry, "sftp", raising=False)
    monkeypatch.delitem(sys.modules, "fsspec.implementations.sftp", raising=False)
    monkeypatch.setitem(sys.modules, "paramiko", None)
    with pytest.raises(MissingDependency) as info:
        open_artifact_store("sftp://host/path")
    assert info.value.package == "paramiko"
    assert info.value.fix == "pip install paramiko"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("s3://AKIA:s3cr3t@bucket/prefix", "s3://bucket/prefix"),
        ("s3://bucket/prefix/", "s3://bucket/prefix"),
        ("az://container/p?sv=2024&sig=SIGNATURE", "az://container/p"),
        ("gs://user@bucket/p#frag", "gs://bucket/p"),
        ("/plain/path", "/plain/path"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_credentials_never_shown_in_url_or_repr() -> None:
    store = FsspecArtifactStore(
        f"s3://{SECRET_KEY}:{SECRET}@bucket/prefix?token=TOKENVALUE",
        storage_options={"key": SECRET_KEY, "secret": SECRET, "anon": False},
    )
    for text in (store.url, repr(store), str(store)):
        assert SECRET not in text
        assert SECRET_KEY not in text
        assert "TOKENVALUE" not in text
    assert store.url == "s3://bucket/prefix"


def test_credentials_never_shown_in_errors(s3_server: S3Server, tmp_path: Path) -> None:
    options = s3_server.storage_options(key=SECRET_KEY, secret=SECRET)
    store = FsspecArtifactStore(
        "s3://no-such-bucket-forgeml/prefix", cache_dir=tmp_path, storage_options=options
    )
    source = tmp_path / "f.bin"
    source.write_bytes(b"data")
    failures = [
        lambda: store.put_bytes(b"data"),
        lambda: store.put_file(source),
        lambda: store.put_named("k", b"v"),
        lambda: store.get_bytes(hashlib.sha256(b"data").hexdigest()),
        lambda: store.get_named("k"),
    ]
    for failure in failures:
        with pytest.raises(ArtifactError) as info:
            failure()
        text = str(info.value)
        assert "no-such-bucket-forgeml" in text
        assert SECRET not in text
        assert SECRET_KEY not in text


def test_s3_listing_sees_writes_from_other_clients(s3_server: S3Server, tmp_path: Path) -> None:
    prefix = f"fresh/{uuid.uuid4().hex}"
    store = FsspecArtifactStore(
        f"s3://forgeml-artifacts-test/{prefix}",
        cache_dir=tmp_path,
        storage_options=s3_server.storage_options(),
    )
    assert store.list_named() == []
    digest = hashlib.sha256(b"late").hexdigest()
    assert not store.exists(digest)
    s3_server.client.put_object(
        Bucket="forgeml-artifacts-test", Key=f"{prefix}/named/logs/1", Body=b"a"
    )
    s3_server.client.put_object(
        Bucket="forgeml-artifacts-test", Key=f"{prefix}/sha256/{digest[:2]}/{digest}", Body=b"late"
    )
    assert store.list_named() == ["logs/1"]
    assert store.exists(digest)
    s3_server.client.delete_object(Bucket="forgeml-artifacts-test", Key=f"{prefix}/named/logs/1")
    assert store.list_named() == []


def test_local_path_uses_the_cache_and_verifies_it(tmp_path: Path) -> None:
    url = memory_url()
    cache = tmp_path / "cache"
    store = FsspecArtifactStore(url, cache_dir=cache)
    digest = store.put_bytes(b"cached bytes")
    path = store.local_path(digest)
    assert path.is_relative_to(cache)
    assert path.read_bytes() == b"cached bytes"

    # a second store on the same cache finds the verified copy without downloading
    memory = fsspec.filesystem("memory")
    memory.rm_file(f"{url.removeprefix('memory:/')}/sha256/{digest[:2]}/{digest}")
    assert not store.exists(digest)
    assert FsspecArtifactStore(url, cache_dir=cache).local_path(digest) == path

    # a damaged cached copy is fetched again from the store
    store.put_bytes(b"cached bytes")
    path.write_bytes(b"damaged")
    assert store.local_path(digest).read_bytes() == b"cached bytes"


def test_corrupt_remote_bytes_never_reach_the_cache(tmp_path: Path) -> None:
    url = memory_url()
    cache = tmp_path / "cache"
    store = FsspecArtifactStore(url, cache_dir=cache)
    digest = store.put_bytes(b"good")
    fsspec.filesystem("memory").pipe_file(
        f"{url.removeprefix('memory:/')}/sha256/{digest[:2]}/{digest}", b"evil"
    )
    with pytest.raises(ArtifactError, match="corrupt"):
        store.local_path(digest)
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_default_cache_dir_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    store = FsspecArtifactStore(memory_url())
    digest = store.put_bytes(b"default cache")
    path = store.local_path(digest)
    assert path.is_relative_to(tmp_path)
    assert path.is_relative_to(remote_module.default_cache_dir())
    private = remote_module.default_cache_dir().parent
    assert stat.S_IMODE(private.stat().st_mode) == 0o700


def test_put_file_detects_a_file_changing_while_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsspecArtifactStore(memory_url(), cache_dir=tmp_path / "cache")
    source = tmp_path / "growing.log"
    source.write_bytes(b"first line\n")
    real_hash_file = remote_module.hash_file

    def hash_then_append(path: Path) -> tuple[str, int]:
        result = real_hash_file(path)
        with path.open("ab") as f:
            f.write(b"second line\n")
        return result

    monkeypatch.setattr(remote_module, "hash_file", hash_then_append)
    with pytest.raises(ArtifactError, match="changed while") as info:
        store.put_file(source)
    assert info.value.fix
    assert not store.exists(hashlib.sha256(b"first line\n").hexdigest())


def test_list_named_skips_names_other_tools_wrote(tmp_path: Path) -> None:
    url = memory_url()
    store = FsspecArtifactStore(url, cache_dir=tmp_path)
    root = url.removeprefix("memory:/")
    memory = fsspec.filesystem("memory")
    memory.pipe_file(f"{root}/named/ok", b"1")
    memory.pipe_file(f"{root}/named/bad%2e%2e", b"2")
    memory.pipe_file(f"{root}/named/CON", b"3")
    assert store.list_named() == ["ok"]
    with pytest.raises(ArtifactNotFound):
        store.get_named("missing")


def test_download_failure_is_reported_as_a_download_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    store = FsspecArtifactStore(memory_url(), cache_dir=cache)
    digest = store.put_bytes(b"payload" * 1000)

    def broken(stream: object, chunk_size: int = 0) -> Iterator[bytes]:
        yield b"payload"
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(remote_module, "iter_chunks", broken)
    with pytest.raises(ArtifactError, match="downloading artifact") as info:
        store.local_path(digest)
    assert "connection reset by peer" in str(info.value)
    assert [p for p in cache.rglob("*") if p.is_file()] == []
