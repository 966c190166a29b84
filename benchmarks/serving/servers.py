"""Start a server as a child process (pinned to one CPU), wait until it answers, stop it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Server", "free_port", "pinning", "post_json"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinning() -> tuple[int, int] | None:
    """(server CPU, load generator CPU) when this process may use two CPUs and pin to them."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


@dataclass
class Server:
    """One server process (and its children, in their own process group)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    port: int
    ready_path: str
    log_file: Path
    cpu: int | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120.0) -> None:
        cpu = self.cpu

        def pin() -> None:  # inherited by every process the server starts
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        log = self.log_file.open("wb")
        self.process = subprocess.Popen(
            list(self.argv),
            env=dict(self.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=pin,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                status, _ = get(self.port, self.ready_path)
            except OSError:
                status = 0
            if status == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM to the server's process group; its exit status (killed after the timeout)."""
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return int(process.returncode)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of every live process in the server's session so far."""
        if self.process is None or not Path("/proc/self/stat").exists():
            return None
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            if int(fields[3]) == self.process.pid:  # its session id
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def post_json(port: int, path: str, body: bytes) -> tuple[int, Any]:
    """One POST with a JSON body; (status, decoded JSON answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()
