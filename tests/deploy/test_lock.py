"""The lock file is enough: a fresh environment with only its packages serves the model."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.models import rows
from forgeml.deploy.docker import build_context
from forgeml.project import Project
from support import STARTED, ServerProcess, free_port, scaled

SRC = Path(__file__).resolve().parents[2] / "src"


def _environment(lock: Path, folder: Path) -> Path:
    """A virtual environment with the lock's packages only (forgeml itself from the source)."""
    wanted = [line for line in lock.read_text().split() if not line.startswith("forgeml==")]
    (folder / "lock.txt").write_text("\n".join(wanted) + "\n")
    python = folder / "venv" / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:
        subprocess.run(
            [uv, "venv", "-q", "--python", sys.executable, str(python.parents[1])], check=True
        )
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(python.parents[1])], check=True)
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*install, "--no-deps", "-r", str(folder / "lock.txt")], check=True)
    return python


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["credit@1", "spend@1"])
def test_locked_environment_serves_the_model(
    deploy_project: Project, tmp_path: Path, ref: str
) -> None:
    context = build_context(ref, tmp_path / "ctx", project=deploy_project)
    python = _environment(context.path / "requirements.lock", tmp_path)
    port = free_port()
    errors = tmp_path / "server.err"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(SRC), "HOME": str(tmp_path)}
    argv = [str(python), "-m", "forgeml.cli", "serve", "--model-dir", str(context.model.path)]
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )
    server = ServerProcess(process, port, errors)
    STARTED.append(server)
    try:
        deadline = time.monotonic() + scaled(120)
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
            try:
                connection.request(
                    "POST", "/predict", json.dumps(rows(1)[0]), {"content-type": "application/json"}
                )
                reply = connection.getresponse()
                status, body = reply.status, reply.read()
                if status == 200:
                    break
            except OSError:
                pass
            finally:
                connection.close()
            assert process.poll() is None, server.stderr()
            assert time.monotonic() < deadline, server.stderr()
            time.sleep(0.3)
        assert json.loads(body)["version"] == 1
    finally:
        server.end()
