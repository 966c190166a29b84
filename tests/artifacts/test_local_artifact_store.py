"""LocalArtifactStore specifics: crash safety, no rewrites, moving files in, many processes."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forgeml.artifacts import LocalArtifactStore, open_artifact_store
from forgeml.artifacts import local as local_module
from forgeml.errors import ArtifactError, ConfigError

CHUNK = local_module.CHUNK_SIZE


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(tmp_path / "store")


def fail_on_second_write(
    monkeypatch: pytest.MonkeyPatch, error: BaseException = OSError(errno.ENOSPC, "disk full")
) -> None:
    """Make the atomic writer write one chunk, then fail as a crash or full disk would."""
    original = local_module._AtomicWriter.write
    calls = {"n": 0}

    def write(self: local_module._AtomicWriter, chunk: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise error
        original(self, chunk)

    monkeypatch.setattr(local_module._AtomicWriter, "write", write)


def test_layout(store: LocalArtifactStore) -> None:
    digest = store.put_bytes(b"layout")
    assert store.local_path(digest) == store.root / "sha256" / digest[:2] / digest
    store.put_named("logs/1", b"x")
    assert (store.root / "named" / "logs" / "1").read_bytes() == b"x"
    assert store.url == str(store.root)


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "disk full"), RuntimeError("crash")])
def test_crash_mid_put_file_leaves_nothing(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    data = os.urandom(3 * CHUNK)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    fail_on_second_write(monkeypatch, error)
    with pytest.raises((ArtifactError, RuntimeError)):
        store.put_file(source)
    digest = hashlib.sha256(data).hexdigest()
    assert not (store.root / "sha256" / digest[:2] / digest).exists()
    assert files_under(store.root) == []
    assert source.read_bytes() == data
    monkeypatch.undo()
    assert store.put_file(source) == digest


def test_crash_mid_put_bytes_leaves_nothing(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_write(monkeypatch)
    with pytest.raises(ArtifactError, match="disk full") as info:
        store.put_bytes(b"z" * (2 * CHUNK + 1))
    assert "free disk space" in str(info.value.fix)
    assert files_under(store.root) == []


def test_crash_mid_overwrite_keeps_the_old_named_value(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put_named("state", b"old")

    def crash(self: local_module._AtomicWriter, final: Path) -> None:
        raise RuntimeError("power cut before rename")

    monkeypatch.setattr(local_module._AtomicWriter, "commit", crash)
    with pytest.raises(RuntimeError):
        store.put_named("state", b"new")
    assert store.get_named("state") == b"old"
    assert list((store.root / "tmp").iterdir()) == []


def test_stored_bytes_are_not_rewritten(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = store.put_bytes(b"once")
    path = store.local_path(digest)
    before = path.stat()

    def no_writes(self: local_module._AtomicWriter, final: Path) -> None:
        raise AssertionError("an already stored artifact was written again")

    monkeypatch.setattr(local_module._AtomicWriter, "commit", no_writes)
    assert store.put_bytes(b"once") == digest
    source = tmp_path / "once.txt"
    source.write_bytes(b"once")
    assert store.put_file(source) == digest
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert list((store.root / "tmp").iterdir()) == []


def test_move_renames_the_file_into_place(store: LocalArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"w" * 1000)
    inode = source.stat().st_ino
    digest = store.put_file(source, move=True)
    assert not source.exists()
    assert store.local_path(digest).stat().st_ino == inode


def test_move_falls_back_to_copy_across_filesystems(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "remote-disk.bin"
    source.write_bytes(b"elsewhere")
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src) == source:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(local_module.os, "replace", replace)
    digest = store.put_file(source, move=True)
    assert not source.exists()
    assert store.get_bytes(digest) == b"elsewhere"
    assert list((store.root / "tmp").iterdir()) == []


def test_move_copies_symlinks_and_hard_links(store: LocalArtifactStore, tmp_path: Path) -> None:
    target = tmp_path / "target.bin"
    target.write_bytes(b"linked")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    digest = store.put_file(link, move=True)
    assert not link.exists()
    assert not link.is_symlink()
    assert target.read_bytes() == b"linked"
    stored = store.local_path(digest)
    assert not stored.is_symlink()

    other = tmp_path / "hard.bin"
    other.write_bytes(b"hard linked")
    twin = tmp_path / "twin.bin"
    os.link(other, twin)
    digest = store.put_file(other, move=True)
    assert not other.exists()
    assert store.local_path(digest).stat().st_ino != twin.stat().st_ino
    twin.write_bytes(b"changed through the twin")
    assert store.get_bytes(digest) == b"hard linked"


def test_move_gives_the_file_back_if_storing_fails(
    store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "keep.bin"
    source.write_bytes(b"precious")

    def broken(path: Path) -> tuple[str, int]:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(local_module, "hash_file", broken)
    with pytest.raises(ArtifactError, match="I/O error"):
        store.put_file(source, move=True)
    assert source.read_bytes() == b"precious"
    assert files_under(store.root) == []


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(ConfigError, match="a file is in the way"):
        LocalArtifactStore(blocker)


_WRITER = """
import sys, time
from pathlib import Path
from forgeml.artifacts import LocalArtifactStore
store = LocalArtifactStore(sys.argv[1])
data = bytes(range(256)) * 8192
print("ready", flush=True)
go = Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
for i in range(30):
    assert store.put_bytes(data) == sys.argv[2]
    store.put_named("shared/state", data)
print("ok")
"""


def test_concurrent_processes_write_the_same_content(tmp_path: Path) -> None:
    root = tmp_path / "store"
    go = tmp_path / "go"
    data = bytes(range(256)) * 8192
    digest = hashlib.sha256(data).hexdigest()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(root), digest, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == b"ready"
        go.touch()  # both start writing at the same moment
    finally:
        results = [writer.communicate(timeout=60) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err.decode()
        assert out.strip() == b"ok"
    store = LocalArtifactStore(root)
    assert store.get_bytes(digest) == data
    assert store.get_named("shared/state") == data
    assert list((root / "tmp").iterdir()) == []


def test_open_artifact_store_picks_local(tmp_path: Path) -> None:
    by_path = open_artifact_store(str(tmp_path / "a"))
    by_pathlike = open_artifact_store(tmp_path / "b")
    by_url = open_artifact_store((tmp_path / "c").as_uri())
    for store, name in ((by_path, "a"), (by_pathlike, "b"), (by_url, "c")):
        assert isinstance(store, LocalArtifactStore)
        assert store.root == tmp_path / name
    with pytest.raises(ConfigError, match="storage_options"):
        open_artifact_store(tmp_path / "d", storage_options={"key": "x"})
    with pytest.raises(ConfigError, match="names the host"):
        open_artifact_store("file://fileserver/share")
    with pytest.raises(ConfigError, match="empty"):
        open_artifact_store("")


def test_a_removed_tmp_folder_is_recreated(store: LocalArtifactStore) -> None:
    (store.root / "tmp").rmdir()
    digest = store.put_bytes(b"after cleanup")
    assert store.get_bytes(digest) == b"after cleanup"


def test_list_named_skips_names_other_tools_wrote(store: LocalArtifactStore) -> None:
    store.put_named("ok", b"1")
    (store.root / "named" / "bad%2e%2e").write_bytes(b"2")
    (store.root / "named" / "trailing.").write_bytes(b"3")
    assert store.list_named() == ["ok"]
