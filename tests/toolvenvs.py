"""Separate virtual environments for tools whose pins conflict with forgeml's (kfp, Argo's
models, Airflow), cached under ``.venvs/`` in the repository so only the first run installs."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"
INSTALL_TIMEOUT_S = 900
sys.path.append(str(ROOT / "benchmarks"))  # the installer the benchmarks' anchors use
from _measure import InstallFailed, install_venv  # noqa: E402


def tool_python(name: str, packages: list[str]) -> Path:
    """The python of venv ``name`` holding ``packages``; skips the test when they cannot be
    installed (no index reachable), with the installer's last words."""
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:12]
    folder = VENVS / f"{name}-{digest}"
    ready = folder / ".ready"
    VENVS.mkdir(exist_ok=True)
    with (VENVS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (tests run in parallel)
        if ready.exists():
            return folder / "bin" / "python"
        shutil.rmtree(folder, ignore_errors=True)
        try:
            python = install_venv(folder, packages, timeout_s=INSTALL_TIMEOUT_S)
        except InstallFailed as failed:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"cannot install into a test venv: {failed}")
        ready.touch()
    return python


def run_in(python: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``python``; the result (stdout, stderr, return code) is returned."""
    return subprocess.run(
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
