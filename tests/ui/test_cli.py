"""``forgeml ui`` as a user starts it: binds localhost, serves pages, stops on SIGTERM, and
says clearly when its port is taken."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from forgeml.project import Project
from support import STARTED, ServerProcess, free_port, scaled

Built = tuple[Project, dict[str, Any]]


def _start(project: Project, port: int, **env: str) -> ServerProcess:
    errors = project.root / f"ui-{port}.err"
    with errors.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "forgeml.cli", "--project", str(project.root), "ui",
             "--port", str(port)],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )  # fmt: skip
    server = ServerProcess(process, port, errors)
    STARTED.append(server)
    return server


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_forgeml_ui_serves_the_project_on_localhost(built: Built) -> None:
    project, _ = built
    port = free_port()
    server = _start(project, port)
    try:
        deadline = time.monotonic() + scaled(120)
        while True:
            try:
                status, page = _get(port, "/")
                break
            except OSError:
                assert server.process.poll() is None, server.stderr()
                assert time.monotonic() < deadline, server.stderr()
                time.sleep(0.2)
        assert status == 200 and "credit" in page and 'id="models"' in page
        assert 'id="actions-off"' in _get(port, "/models/credit")[1]  # no key: no actions
        with socket.socket() as other:  # bound to 127.0.0.1 only, not every interface
            other.settimeout(2)
            public = socket.gethostbyname(socket.gethostname())
            if not public.startswith("127."):
                assert other.connect_ex((public, port)) != 0
        # uvicorn ends on the signal it was sent, after its graceful shutdown
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.stderr()
    finally:
        server.end()


def test_a_port_in_use_is_a_clear_error(built: Built) -> None:
    project, _ = built
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _start(project, port)
        try:
            code = server.process.wait(timeout=scaled(120))
        finally:
            server.end()
    assert code != 0
    assert f"port {port} on 127.0.0.1 is in use" in server.stderr()
