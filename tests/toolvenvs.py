"""Separate virtual environments for tools whose pins conflict with forgeml's (kfp, Argo's
models, Airflow), cached under ``.venvs/`` in the repository so only the first run installs."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venvs"
INSTALL_TIMEOUT_S = 900


def tool_python(name: str, packages: list[str]) -> Path:
    """The python of venv ``name`` holding ``packages``; skips the test when pip cannot
    install them (no index reachable), with the installer's last words."""
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:12]
    folder = VENVS / f"{name}-{digest}"
    python = folder / "bin" / "python"
    ready = folder / ".ready"
    VENVS.mkdir(exist_ok=True)
    with (VENVS / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (tests run in parallel)
        if ready.exists():
            return python
        shutil.rmtree(folder, ignore_errors=True)
        uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        if uv:
            commands = [
                [uv, "venv", "-q", str(folder), "--python", sys.executable],
                [uv, "pip", "install", "-q", "--python", str(python), *packages],
            ]
        else:
            commands = [
                [sys.executable, "-m", "venv", str(folder)],
                [str(python), "-m", "pip", "install", "-q", *packages],
            ]
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        for command in commands:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                shutil.rmtree(folder, ignore_errors=True)
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                pytest.skip(f"cannot install {' '.join(packages)} into a test venv: {tail}")
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
