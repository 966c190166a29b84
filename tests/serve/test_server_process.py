"""``forgeml serve`` as a process: its workers end with it, a busy port is a clear error, and
every version switch is a line in its output."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import pytest

from forgeml.project import Project
from forgeml.registry import promote
from serve.serving import Client, register
from support import ServerProcess, scaled


@pytest.fixture
def lightgbm_project(sqlite_project: Project) -> Project:
    register(sqlite_project, flavor="lightgbm")
    return sqlite_project


def _wait_until_gone(processes: list[psutil.Process], limit: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=scaled(limit))
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_stopping_a_multi_worker_server_leaves_no_process(
    lightgbm_project: Project, server_process: Callable[..., ServerProcess], sig: signal.Signals
) -> None:
    server = server_process(lightgbm_project.root, "credit", "--workers", "2", "--no-log")
    group = server.group()
    assert len(group) >= 3  # the server, two workers (and the tracker they share)
    server.stop(sig)  # the server process alone: what a supervisor or a user does
    left = _wait_until_gone([p for p in group if p.pid != server.pid], 30)
    assert not left, [" ".join(p.cmdline()) for p in left]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()


def test_a_port_in_use_is_a_clear_error(lightgbm_project: Project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = ["-m", "forgeml.cli", "-p", str(lightgbm_project.root), "serve", "credit"]
        done = subprocess.run(
            [sys.executable, *command, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=scaled(120),
            check=False,
        )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert f"port {port} on 127.0.0.1 is in use" in output
    assert "--port" in output and "Traceback" not in output


def test_the_server_logs_each_version_it_switches_to(
    lightgbm_project: Project, server_process: Callable[..., ServerProcess]
) -> None:
    second = register(lightgbm_project, seed=1, champion=False)
    server = server_process(lightgbm_project.root, "credit", "--reload-interval", "0.1", "--no-log")
    client = Client(server.port)
    promote(second.ref, reason="test", project=lightgbm_project)
    deadline = time.monotonic() + scaled(60)
    while client.get("/ready")[1].get("version") != 2:
        assert time.monotonic() < deadline, server.stderr()
        time.sleep(0.1)
    client.close()
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    lines = [line for line in server.stderr().splitlines() if "serving credit@2" in line]
    assert len(lines) == 1 and "was credit@1" in lines[0]
