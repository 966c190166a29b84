"""Temp files name their writer; those of writers that are gone are reclaimed, others kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forgeml.artifacts.tempfiles import STALE_AFTER_S, reclaim, temp_name, writer_of
from forgeml.project import Project

WRITER = """
import sys, time
from pathlib import Path
from forgeml.artifacts.local import _AtomicWriter
writer = _AtomicWriter(Path(sys.argv[1]))
writer.write(b"x" * 4096)
writer._file.flush()
print(writer.path, flush=True)
time.sleep(600)
"""


def test_files_of_a_killed_writer_are_reclaimed_when_the_project_opens(
    sqlite_project: Project,
) -> None:
    tmp = sqlite_project.state_dir / "artifacts" / "tmp"
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        written = Path(child.stdout.readline().strip())
        assert written.is_file() and writer_of(written.name) == child.pid
        assert reclaim(tmp).files == 0  # its writer is alive: kept
    finally:
        child.kill()
        child.communicate(timeout=60)
    reopened = Project.load(sqlite_project.root)
    assert not written.exists()
    assert reopened.reclaimed.files == 1 and reopened.reclaimed.bytes == 4096
    reopened.close()


def test_files_of_other_machines_are_kept_and_unnamed_ones_only_when_stale(
    tmp_path: Path,
) -> None:
    other_host = tmp_path / f"{os.getpid()}-0123abcd-feedbeef.part"
    fresh = tmp_path / "0f3a9c.part"
    stale = tmp_path / "ingest-0f3a9c.parquet"
    mine = tmp_path / temp_name(".part")
    for path in (other_host, fresh, stale, mine):
        path.write_bytes(b"12")
    old = time.time() - STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    freed = reclaim(tmp_path)
    assert (freed.files, freed.bytes) == (1, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (other_host, fresh, mine)
    )


@pytest.mark.parametrize("name", ["", "-", "x-y-z", "12", "12-", "{pid}--x"])
def test_names_without_a_writer_here_name_none(name: str) -> None:
    # the pid is filled in when the test runs: test ids must be the same in every process
    assert writer_of(name.format(pid=os.getpid())) is None
