"""Graceful drain: on SIGTERM ``forgeml serve`` stops accepting, finishes the requests in
flight, flushes the prediction log and exits well within the 30 s platforms allow."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.serve.predlog import read_predictions
from serve.protocol_cases import credit_rows, pd_request
from serve.serving import Client, register
from support import ServerProcess, scaled

# Loaded by the server process at start-up (sitecustomize): once the test arms it, every
# scoring call says so in a file and then takes SLOW_SECONDS, like a slow model would.
SLOW_MODEL = """
import os, pathlib, time
from forgeml.serve import scoring

_score = scoring.Scorer.score
_armed = pathlib.Path(os.environ["FORGEML_TEST_SLOW_DIR"])


def score(self, batch):
    if (_armed / "armed").exists():
        with open(_armed / "started", "a") as mark:
            mark.write("x")
        time.sleep(float(os.environ["FORGEML_TEST_SLOW_SECONDS"]))
    return _score(self, batch)


scoring.Scorer.score = score
"""
SLOW_SECONDS = 3.0


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight_and_flushes_the_log(
    sqlite_project: Project,
    server_process: Callable[..., ServerProcess],
    tmp_path: Path,
) -> None:
    register(sqlite_project)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_MODEL)
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        "PYTHONPATH": path,
        "FORGEML_TEST_SLOW_DIR": str(hook),
        "FORGEML_TEST_SLOW_SECONDS": str(SLOW_SECONDS),
    }
    server = server_process(sqlite_project.root, "credit", "--flush-interval", "30", env=env)
    rows = credit_rows(2)
    route, body = "/v2/models/credit/infer", pd_request(rows)
    (hook / "armed").touch()
    answers: list[tuple[int, Any]] = []

    def ask() -> None:
        client = Client(server.port)
        try:
            status, answer, _ = client.post(route, body)
            answers.append((status, answer))
        finally:
            client.close()

    asking = threading.Thread(target=ask)
    asking.start()
    deadline = time.monotonic() + scaled(60)
    while not (hook / "started").exists():  # the request is being scored
        assert time.monotonic() < deadline, server.stderr()
        time.sleep(0.01)
    stopped_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(timeout=scaled(60))
    took = time.monotonic() - stopped_at
    asking.join(timeout=scaled(30))
    assert code in (0, -signal.SIGTERM), server.stderr()
    assert took < 25, took
    assert len(answers) == 1 and answers[0][0] == 200, (answers, server.stderr())
    # the flush interval (30 s) had not come: the rows are in the log because stopping wrote them
    log = read_predictions(sqlite_project, "credit")
    assert len(log) == 2
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
