"""Helpers shared by several test modules (importable because tests/ is on the pytest path)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from forgeml.cli import main
from forgeml.store import MetadataStore
from forgeml.store import datasets as queries


def record_version(
    store: MetadataStore, name: str, digest: str, *, created_by: str = "tester"
) -> None:
    """Record a dataset version whose content hash is ``digest``, with placeholder metadata."""
    with store.write() as session:
        queries.add_version(
            session,
            name=name,
            content_hash=digest,
            artifact_sha256=digest,
            size_bytes=1,
            n_rows=1,
            n_columns=1,
            schema={"columns": []},
            profile={"rows": 1},
            source="test",
            created_by=created_by,
        )


@dataclass
class CliResult:
    """The exit code of one ``forgeml`` command and what it printed."""

    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> CliResult:
    """Run the real ``forgeml`` entry point in-process with ``args`` (a wide terminal)."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "argv", ["forgeml", *args])
    code = 0
    try:
        main()
    except SystemExit as done:
        code = int(done.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


BUCKET = "forgeml-artifacts-test"


@dataclass
class S3Server:
    endpoint: str
    client: Any  # boto3 S3 client, for writes that bypass the store

    def storage_options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "key": "test",
            "secret": "test",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }
        options.update(overrides)
        return options


# ---- processes: servers started by tests, and a check that none is left behind ----------

HELPERS = ("resource_tracker", "semaphore_tracker", "forkserver", "loky", "joblib")
"""Long-lived helpers the test process itself may start (multiprocessing, joblib): not strays."""


def scaled(seconds: float) -> float:
    """``seconds`` stretched by how busy the machine is (load average per CPU, at least 1)."""
    per_cpu = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * max(1.0, per_cpu)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    """``forgeml serve`` running in a process group of its own."""

    process: subprocess.Popen[bytes]
    port: int
    errors: Path
    output: Path | None = None
    """Where its standard output goes, when kept."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def group(self) -> list[psutil.Process]:
        """Every process still alive in the server's process group (workers, trackers)."""
        found = []
        for candidate in psutil.process_iter():
            try:
                if os.getpgid(candidate.pid) == self.pid and candidate.status() != "zombie":
                    found.append(candidate)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` to the server process alone and wait for it to end; its exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=scaled(timeout))

    def stderr(self) -> str:
        return self.errors.read_text(errors="replace")

    def stdout(self) -> str:
        return self.output.read_text(errors="replace") if self.output is not None else ""

    def end(self) -> None:
        """Kill the whole group and reap the server (idempotent)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=scaled(30))
        deadline = time.monotonic() + scaled(30)
        while self.group() and time.monotonic() < deadline:  # orphans: reaped by init
            time.sleep(0.1)


def start_server(
    root: Path, model: str, *args: str, env: dict[str, str] | None = None, ready: str = "/ready"
) -> ServerProcess:
    """``forgeml serve MODEL ARGS`` for the project at ``root``, in its own process group,
    once ``ready`` answers 200 (within a limit scaled by the machine's load)."""
    env = {**os.environ, "FORGEML_PROJECT": str(root), **(env or {})}
    return launch_server([model, *args], root, env=env, ready=ready)


def launch_server(
    args: list[str],
    folder: Path,
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    ready: str = "/ready",
) -> ServerProcess:
    """``forgeml serve ARGS`` on a free port, in its own process group, its output kept in
    ``folder``, once ``ready`` answers 200 (within a limit scaled by the machine's load)."""
    port = free_port()
    errors = folder / f"server-{port}.err"
    output = folder / f"server-{port}.out"
    with errors.open("wb") as sink, output.open("wb") as printed:
        process = subprocess.Popen(
            [sys.executable, "-m", "forgeml.cli", "serve", *args, "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=printed,
            stderr=sink,
            start_new_session=True,
        )
    server = ServerProcess(process, port, errors, output)
    STARTED.append(server)
    deadline = time.monotonic() + scaled(120)
    while True:
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
        try:
            probe.request("GET", ready)
            if probe.getresponse().status == 200:
                return server
        except OSError:
            pass
        finally:
            probe.close()
        if process.poll() is not None or time.monotonic() > deadline:
            server.end()
            raise AssertionError(f"the server did not get ready:\n{server.stderr()}")
        time.sleep(0.2)


STARTED: list[ServerProcess] = []
"""Servers started by :func:`launch_server`; the suite ends each group after its test."""


@dataclass(frozen=True)
class Snapshot:
    """When a test began, and which processes this process had started before it."""

    since: float
    running: frozenset[int]


def snapshot() -> Snapshot:
    descendants = psutil.Process().children(recursive=True)
    return Snapshot(time.time(), frozenset(p.pid for p in descendants))


def strays(before: Snapshot) -> list[psutil.Process]:
    """Processes started since ``before`` that are still running: descendants of this process
    (not those of a process that was already running, such as a session fixture's), orphans
    left in its process group, and anything left of a server :func:`launch_server` started."""
    me = psutil.Process()
    found: dict[int, psutil.Process] = {}
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.pid in before.running or child.status() == psutil.STATUS_ZOMBIE:
                continue
            if child.ppid() == me.pid and any(h in " ".join(child.cmdline()) for h in HELPERS):
                continue
            if not any(parent.pid in before.running for parent in child.parents()):
                found[child.pid] = child
    group = os.getpgrp()
    # process start times are whole clock ticks after boot, read against a boot time in whole
    # seconds: compare with a margin
    for candidate in psutil.process_iter(["ppid", "create_time"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if candidate.info["create_time"] < before.since - 2 or candidate.pid == me.pid:
                continue
            if candidate.info["ppid"] == 1 and os.getpgid(candidate.pid) == group:
                found[candidate.pid] = candidate
    for server in STARTED:
        for process in server.group():
            found[process.pid] = process
    return list(found.values())
