"""A kill -9 in the middle of an ingest leaves the previous state intact and readable."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import forgeml
from forgeml.project import Project

CHILD = """
import sys, forgeml
forgeml.ingest(sys.argv[1], name="events", project=forgeml.open_project(sys.argv[2]))
print("finished", flush=True)
"""


def _table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {f"x{i}": rng.normal(size=rows) for i in range(12)}
        | {"cat": rng.choice(["a", "b", "c"], rows)}
    )


@pytest.mark.slow
def test_killed_ingests_never_corrupt_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    project = Project.init(tmp_path / "proj")
    first = forgeml.ingest(_table(1000, 0), name="events", project=project).version
    big = tmp_path / "big.parquet"
    pq.write_table(_table(400_000, 1), big)

    outcomes = []
    for delay in (0.5, 1.0, 1.5, 2.5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(big), str(project.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ.copy(),
        )
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
        outcomes.append(b"finished" in out)

        stored = forgeml.versions("events", project=project)
        assert stored[0].content_hash == first.content_hash
        assert [v.version for v in stored] in ([1], [1, 2])
        for version in stored:
            assert version.to_arrow().num_rows == version.rows  # hash verified on read
        for blob in (project.state_dir / "artifacts").rglob("*"):
            if blob.is_file() and len(blob.name) == 64:
                assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name

    result = forgeml.ingest(big, name="events", project=project)
    assert result.version.version == 2 and result.version.rows == 400_000
    project.close()
    # Kills landed at different stages; at least one interrupted the ingest.
    assert not all(outcomes)
