"""Behaviour every artifact store backend must share (local folder, memory://, S3)."""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from forgeml.artifacts import ArtifactStore
from forgeml.errors import ArtifactError, ArtifactNotFound, IntegrityError, UnsafeKey

if TYPE_CHECKING:
    from conftest import Backend

FIVE_MB = 5 * 1024 * 1024
MISSING = hashlib.sha256(b"never stored").hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "data",
    [b"hello", b"", bytes(range(256)) * 4096],
    ids=["small", "empty", "1MiB"],
)
def test_bytes_round_trip(store: ArtifactStore, data: bytes) -> None:
    digest = store.put_bytes(data)
    assert digest == sha(data)
    assert store.exists(digest)
    assert store.size(digest) == len(data)
    assert store.get_bytes(digest) == data
    assert store.local_path(digest).read_bytes() == data


def test_put_bytes_is_idempotent(store: ArtifactStore) -> None:
    first = store.put_bytes(b"same bytes")
    second = store.put_bytes(b"same bytes")
    assert first == second
    assert store.get_bytes(first) == b"same bytes"


@pytest.mark.parametrize("move", [False, True], ids=["copy", "move"])
def test_put_file_round_trip_5mb(store: ArtifactStore, tmp_path: Path, move: bool) -> None:
    data = os.urandom(FIVE_MB)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    digest = store.put_file(source, move=move)
    assert digest == sha(data)
    assert source.exists() is not move
    assert store.size(digest) == FIVE_MB
    assert store.get_bytes(digest) == data
    assert store.local_path(digest).read_bytes() == data


def test_put_file_then_bytes_share_one_artifact(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"shared")
    assert store.put_file(str(source)) == store.put_bytes(b"shared")
    again = tmp_path / "b.txt"
    again.write_bytes(b"shared")
    assert store.put_file(again, move=True) == sha(b"shared")
    assert not again.exists()


def test_put_file_refuses_missing_source(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"does not exist") as info:
        store.put_file(tmp_path / "nope.bin")
    assert "nope.bin" in str(info.value)
    assert info.value.fix


def test_put_file_refuses_a_folder(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="folder"):
        store.put_file(tmp_path)


def test_absent_artifact(store: ArtifactStore) -> None:
    assert not store.exists(MISSING)
    for read in (store.size, store.get_bytes, store.local_path):
        with pytest.raises(ArtifactNotFound, match=MISSING) as info:
            read(MISSING)
        assert store.url in str(info.value)
        assert info.value.fix


def test_reading_corrupt_bytes_raises_integrity_error(backend: Backend) -> None:
    store = backend.store
    digest = store.put_bytes(b"original weights")
    backend.raw_write(f"sha256/{digest[:2]}/{digest}", b"tampered weights")
    with pytest.raises(IntegrityError, match=digest) as info:
        store.get_bytes(digest)
    assert "fix" in str(info.value)
    with pytest.raises(IntegrityError, match=digest):
        store.local_path(digest)


def test_put_repairs_a_truncated_artifact(backend: Backend) -> None:
    store = backend.store
    digest = store.put_bytes(b"0123456789")
    backend.raw_write(f"sha256/{digest[:2]}/{digest}", b"01234")
    assert store.put_bytes(b"0123456789") == digest
    assert store.get_bytes(digest) == b"0123456789"


BAD_DIGESTS = [
    "",
    "abc",
    "A" * 64,
    "g" * 64,
    "0" * 63,
    "0" * 65,
    "0" * 64 + "\n",
    "../" + "0" * 61,
    "00/" + "0" * 61,
    "0" * 62 + "/.",
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
@pytest.mark.parametrize("method", ["exists", "size", "get_bytes", "local_path"])
def test_digest_arguments_must_be_sha256_hex(
    store: ArtifactStore, method: str, digest: str
) -> None:
    with pytest.raises(UnsafeKey, match="sha256") as info:
        getattr(store, method)(digest)
    assert info.value.fix


def test_named_objects_put_get_list_delete(store: ArtifactStore) -> None:
    assert store.list_named() == []
    store.put_named("logs/0002.jsonl", b"two")
    store.put_named("logs/0001.jsonl", b"one")
    store.put_named("logsbook", b"not a log")
    store.put_named("models/champion.json", b"{}")
    store.put_named("empty", b"")
    assert store.get_named("logs/0001.jsonl") == b"one"
    assert store.get_named("empty") == b""
    assert store.list_named() == [
        "empty",
        "logs/0001.jsonl",
        "logs/0002.jsonl",
        "logsbook",
        "models/champion.json",
    ]
    assert store.list_named("logs/") == ["logs/0001.jsonl", "logs/0002.jsonl"]
    assert store.list_named("logs") == ["logs/0001.jsonl", "logs/0002.jsonl", "logsbook"]
    assert store.list_named("logs/0002") == ["logs/0002.jsonl"]
    assert store.list_named("nothing/") == []
    store.delete_named("logs/0001.jsonl")
    assert store.list_named("logs/") == ["logs/0002.jsonl"]
    with pytest.raises(ArtifactNotFound, match=r"logs/0001\.jsonl"):
        store.get_named("logs/0001.jsonl")


def test_named_keys_are_normalised(store: ArtifactStore) -> None:
    store.put_named("./reports//2024/./summary.txt", b"ok")
    assert store.get_named("reports/2024/summary.txt") == b"ok"
    assert store.list_named("reports/") == ["reports/2024/summary.txt"]
    store.put_named("caf\u0065\u0301.txt", b"nfd")  # e + combining acute
    assert store.get_named("caf\u00e9.txt") == b"nfd"
    assert "caf\u00e9.txt" in store.list_named("caf")


def test_named_overwrite_replaces_value(store: ArtifactStore) -> None:
    store.put_named("state.json", b"old")
    store.put_named("state.json", b"new")
    assert store.get_named("state.json") == b"new"
    assert store.list_named() == ["state.json"]


def test_named_absent(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFound, match="ghost") as info:
        store.get_named("ghost")
    assert info.value.fix
    with pytest.raises(ArtifactNotFound, match="ghost"):
        store.delete_named("ghost")
    store.put_named("dir/file", b"x")
    with pytest.raises(ArtifactNotFound):
        store.get_named("dir")
    with pytest.raises(ArtifactNotFound):
        store.delete_named("dir")


def test_named_objects_and_artifacts_do_not_mix(store: ArtifactStore) -> None:
    digest = store.put_bytes(b"blob")
    store.put_named("note", b"text")
    assert store.list_named() == ["note"]
    assert store.list_named("sha256") == []
    assert store.get_bytes(digest) == b"blob"


@pytest.mark.parametrize(
    "key", ["../escape", "/abs", "a/../../b", "..%2fx", "s3://other-bucket/x", "~/x", "a\\b", ""]
)
def test_named_methods_refuse_unsafe_keys(store: ArtifactStore, key: str) -> None:
    with pytest.raises(UnsafeKey):
        store.put_named(key, b"x")
    with pytest.raises(UnsafeKey):
        store.get_named(key)
    with pytest.raises(UnsafeKey):
        store.delete_named(key)
    if key:
        with pytest.raises(UnsafeKey):
            store.list_named(key)
    assert store.list_named() == []


def test_concurrent_writers_of_the_same_content(store: ArtifactStore, tmp_path: Path) -> None:
    data = os.urandom(256 * 1024)
    sources = []
    for i in range(4):
        source = tmp_path / f"copy{i}.bin"
        source.write_bytes(data)
        sources.append(source)

    def write(i: int) -> str:
        if i < len(sources):
            return store.put_file(sources[i], move=i % 2 == 0)
        return store.put_bytes(data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = list(pool.map(write, range(8)))
    assert set(digests) == {sha(data)}
    assert store.get_bytes(sha(data)) == data


def test_named_overwrite_is_atomic_for_readers(store: ArtifactStore) -> None:
    old, new = b"a" * 200_000, b"b" * 300_000
    store.put_named("segment", old)
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(store.get_named("segment"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(20):
            store.put_named("segment", new if i % 2 == 0 else old)
    finally:
        stop.set()
        reader.join()
    assert seen
    assert all(value in (old, new) for value in seen)


def test_url_and_repr(store: ArtifactStore) -> None:
    assert store.url
    assert repr(store) == f"{type(store).__name__}(url={store.url!r})"
