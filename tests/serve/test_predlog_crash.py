"""The prediction log survives its process: a kill -9 loses at most the last flush interval
and leaves every segment readable; a normal exit writes everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from forgeml.project import Project
from forgeml.serve.predlog import read_predictions
from forgeml.store.models import PredictionSegmentRecord

FLUSH_INTERVAL = 0.2
# Rows logged this long before the kill must have been written: one flush interval, plus
# room for the write in progress on a busy machine.
GUARANTEE_S = FLUSH_INTERVAL + 0.3

CHILD = textwrap.dedent(
    """
    import sys, time
    from forgeml.project import Project
    from forgeml.serve.predlog import PredictionLog

    project = Project.load(sys.argv[1])
    inputs = [{"name": "x", "type": "double", "kind": "float"},
              {"name": "city", "type": "large_string", "kind": "category"}]
    log = PredictionLog(project, "crash", inputs, flush_interval=float(sys.argv[2])).start()
    batch, total = 25, 0
    while total < int(sys.argv[3]):
        ids = [str(total + k) for k in range(batch)]
        columns = {"x": [float(k) for k in range(batch)], "city": ["Bergen"] * batch}
        log.log_predictions(ids=ids, version=1, arm="champion", inputs=columns,
                            scores=[0.5] * batch, labels=[1] * batch, latency_ms=0.5)
        total += batch
        print(f"logged {total} {time.time():.6f} written {log.written}", flush=True)
        time.sleep(0.003)
    """
)


def _spawn(project: Project, interval: float, rows: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project.root), str(interval), str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.slow
def test_kill_9_loses_at_most_the_last_flush_interval(project: Project) -> None:
    progress: list[tuple[int, float, int]] = []  # (logged, when, written) as the child saw it
    with _spawn(project, FLUSH_INTERVAL, 10**9) as child:

        def read() -> None:
            assert child.stdout is not None
            for line in child.stdout:
                _, logged, when, _, written = line.split()
                progress.append((int(logged), float(when), int(written)))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not progress or progress[-1][2] == 0 or progress[-1][1] - progress[0][1] < 1.2:
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never wrote a segment"
            time.sleep(0.01)
        killed_at = time.time()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        reader.join(timeout=10)
    assert child.returncode == -signal.SIGKILL

    table = read_predictions(project, "crash")  # every indexed segment, hash-verified
    ids = sorted(int(i) for i in table.column("request_id").to_pylist())
    assert ids == list(range(len(ids)))  # a gap-free prefix: nothing torn, nothing twice
    assert table.column("city").to_pylist() == ["Bergen"] * len(ids)
    safe = max((n for n, when, _ in progress if when <= killed_at - GUARANTEE_S), default=0)
    assert safe > 0
    assert len(ids) >= safe
    with project.store.read() as session:
        indexed = sum(s.rows for s in session.query(PredictionSegmentRecord).all())
    assert indexed == len(ids)


@pytest.mark.slow
def test_a_normal_exit_writes_what_is_still_buffered(sqlite_project: Project) -> None:
    with _spawn(sqlite_project, 3600.0, 200) as child:  # nothing is written before the exit
        out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.splitlines()[-1].startswith("logged 200 ")
    assert out.splitlines()[-1].endswith(" written 0")
    assert read_predictions(sqlite_project, "crash").num_rows == 200
