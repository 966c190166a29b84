"""kill -9 of ingest and train: the next command reclaims their temporary files, and the
killed training run is shown as crashed instead of running for ever."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forgeml
from forgeml.project import Project
from forgeml.training.tracking import list_runs

CLI = [sys.executable, "-c", "from forgeml.cli import main; main()"]


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    return env | {"FORGEML_PROJECT": str(root), "COLUMNS": "200"}


def _temp_files(project: Project) -> list[Path]:
    return [p for folder in project.temp_folders() if folder.is_dir() for p in folder.iterdir()]


def _temp_bytes(project: Project) -> int:
    total = 0
    for path in _temp_files(project):
        with contextlib.suppress(FileNotFoundError):  # renamed into the store meanwhile
            total += path.stat().st_size
    return total


def _kill_when(child: subprocess.Popen[bytes], seen: object, limit_s: float) -> bool:
    """SIGKILL ``child`` as soon as ``seen()`` holds; False if it ended first."""
    deadline = time.monotonic() + limit_s
    try:
        while child.poll() is None and time.monotonic() < deadline:
            if seen():  # type: ignore[operator]
                child.send_signal(signal.SIGKILL)
                return True
            time.sleep(0.005)
        return False
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=120)


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(20)})
    frame["label"] = (frame["x0"] + rng.normal(size=rows) > 0).astype(int)
    return frame


@pytest.mark.slow
def test_temp_files_of_a_killed_ingest_are_reclaimed_by_the_next_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    project = Project.init(tmp_path / "proj")
    source = tmp_path / "big.csv"
    _frame(400_000).to_csv(source, index=False)
    killed = False
    for _ in range(3):  # on a very fast machine the ingest may finish before the kill lands
        child = subprocess.Popen(
            [*CLI, "ingest", str(source), "--name", f"big{_}"],
            env=_env(project.root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        # killed once a temporary file holds data, so that reclaiming it frees something
        if _kill_when(child, lambda: _temp_bytes(project) > 0, limit_s=300):
            killed = True
            break
    assert killed, "no ingest was caught with a temporary file"
    time.sleep(0.2)  # a kill is asynchronous: let the process be gone before looking
    left = _temp_files(project)
    assert left, "the killed ingest left no temporary file to reclaim"
    done = subprocess.run(
        [*CLI, "space"], env=_env(project.root), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert _temp_files(project) == []
    assert "left by processes that were killed" in done.stdout
    assert "freed 0 B" not in done.stdout
    project.close()


@pytest.mark.slow
def test_a_killed_training_run_is_crashed_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    project = Project.init(tmp_path / "proj")
    forgeml.ingest(_frame(3000), name="churn", project=project)
    child = subprocess.Popen(
        [*CLI, "train", "--dataset", "churn", "--target", "label", "--budget", "10m"],
        env=_env(project.root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    started = _kill_when(
        child, lambda: bool(list_runs(project=project, status="running")), limit_s=300
    )
    assert started, "training ended before its run was seen running"
    time.sleep(0.2)
    runs = subprocess.run(
        [*CLI, "runs"], env=_env(project.root), capture_output=True, text=True, timeout=300
    )
    assert runs.returncode == 0, runs.stderr
    assert "crashed" in runs.stdout and "running" not in runs.stdout
    assert _temp_files(project) == []
    assert [r.status for r in list_runs(project=project)] == ["crashed"]
    assert list_runs(project=project, status="running") == []
    assert len(list_runs(project=project, status="crashed")) == 1
    project.close()
