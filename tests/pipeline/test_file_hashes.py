"""File hashes remembered by stat: reused while the stat is unchanged, recomputed when the
file was rewritten (even with its size and modification time put back), never kept for a
file that changed just before it was hashed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from forgeml.pipeline import file_hashes
from forgeml.pipeline.file_hashes import FileHashes


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat every file as settled, so a test need not wait for its clock to move on."""
    monkeypatch.setattr(file_hashes, "RACY_S", -1.0)


def test_a_remembered_hash_is_used_while_the_stat_is_unchanged(
    tmp_path: Path, settled: None
) -> None:
    data, memory = tmp_path / "data.csv", tmp_path / "state" / "hashes.json"
    data.write_bytes(b"a,b\n1,2\n")
    first = FileHashes(memory)
    assert first.sha256(data) == _sha(b"a,b\n1,2\n")
    first.save()
    # the memory, not the bytes, answers: mark its entry to tell them apart
    entries = json.loads(memory.read_text())
    entries[os.path.abspath(data)][5] = "remembered"
    memory.write_text(json.dumps(entries))
    assert FileHashes(memory).sha256(data) == "remembered"


def test_a_rewrite_with_the_same_size_and_mtime_is_hashed_again(
    tmp_path: Path, settled: None
) -> None:
    data, memory = tmp_path / "data.csv", tmp_path / "hashes.json"
    data.write_bytes(b"a,b\n1,2\n")
    before = data.stat()
    hashes = FileHashes(memory)
    assert hashes.sha256(data) == _sha(b"a,b\n1,2\n")
    hashes.save()
    time.sleep(0.05)  # past the file system's timestamp tick
    data.write_bytes(b"a,b\n9,9\n")  # same size
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))  # the old mtime put back
    after = data.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert FileHashes(memory).sha256(data) == _sha(b"a,b\n9,9\n")


def test_a_file_touched_with_the_same_bytes_keeps_its_hash(tmp_path: Path, settled: None) -> None:
    data, memory = tmp_path / "data.csv", tmp_path / "hashes.json"
    data.write_bytes(b"x\n")
    hashes = FileHashes(memory)
    digest = hashes.sha256(data)
    hashes.save()
    os.utime(data)  # a new mtime, the same bytes
    assert FileHashes(memory).sha256(data) == digest == _sha(b"x\n")


def test_a_file_changed_just_before_it_was_hashed_is_not_remembered(tmp_path: Path) -> None:
    data, memory = tmp_path / "data.csv", tmp_path / "hashes.json"
    data.write_bytes(b"fresh\n")
    hashes = FileHashes(memory)
    assert hashes.sha256(data) == _sha(b"fresh\n")
    hashes.save()
    assert not memory.exists()  # nothing learnt that a same-tick rewrite could fool


def test_an_unreadable_memory_is_ignored_and_replaced(tmp_path: Path, settled: None) -> None:
    data, memory = tmp_path / "data.csv", tmp_path / "hashes.json"
    data.write_bytes(b"x\n")
    memory.write_text("{not json")
    hashes = FileHashes(memory)
    assert hashes.sha256(data) == _sha(b"x\n")
    hashes.save()
    assert list(json.loads(memory.read_text())) == [os.path.abspath(data)]
