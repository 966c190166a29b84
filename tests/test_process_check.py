"""The suite's check that no test leaves a process running finds children and orphans."""

from __future__ import annotations

import subprocess
import sys

import psutil

from support import scaled, snapshot, strays

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_a_child_left_running_is_found_until_it_is_reaped() -> None:
    before = snapshot()
    child = subprocess.Popen(SLEEPER)
    try:
        assert child.pid in {p.pid for p in strays(before)}
    finally:
        child.kill()
        child.wait(timeout=scaled(30))
    assert child.pid not in {p.pid for p in strays(before)}


def test_an_orphan_left_in_the_process_group_is_found() -> None:
    before = snapshot()
    quiet = "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL"
    code = f"import subprocess; print(subprocess.Popen({SLEEPER!r}, {quiet}).pid)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60)
    )
    orphan = psutil.Process(int(done.stdout))
    try:
        assert orphan.pid in {p.pid for p in strays(before)}
    finally:
        orphan.kill()
        psutil.wait_procs([orphan], timeout=scaled(30))
