"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, one request in flight each.

Each connection sends the same pre-built request bytes, reads the whole response (headers,
then ``Content-Length`` bytes of body), checks the status and sends again at once, as
``wrk`` does with one connection per client. Requests answered during the first
``warmup`` seconds are not measured; then for ``seconds`` seconds every response's latency
(send to last byte, ``perf_counter_ns``) is recorded. Run as a script it prints one JSON
line; :func:`run_load` starts it as its own process (so it never shares a GIL with a
server), pinned to one CPU where the platform allows.

    python loadgen.py --port 8000 --request request.bin --concurrency 16 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["LoadResult", "build_request", "run_load"]


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured (the measured window only, unless named ``total``)."""

    concurrency: int
    seconds: float
    requests: int
    rps: float
    p50_us: float
    p99_us: float
    max_us: float
    errors: int
    ok_total: int
    """Responses with status 200 over the whole run, warm-up included."""
    errors_total: int
    first_error: str | None
    busy: float
    """The load generator's own CPU time over its wall time (1.0: its CPU was saturated)."""


def build_request(path: str, body: bytes, port: int) -> bytes:
    """A complete keep-alive POST with a JSON body."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Client(asyncio.Protocol):
    """One connection: send, parse the response, record, send again until told to stop."""

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared
        self.buffer = bytearray()
        self.need = -1  # bytes of the whole response, once the headers are in
        self.status = 0
        self.sent_at = 0
        self.transport: asyncio.Transport | None = None
        self.finished = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._send()

    def _send(self) -> None:
        self.sent_at = time.perf_counter_ns()
        assert self.transport is not None
        self.transport.write(self.shared.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                if not self._parse_head(bytes(self.buffer[:end]), end + 4):
                    return
            if len(self.buffer) < self.need:
                return
            del self.buffer[: self.need]
            self.need = -1
            if not self._done():
                return

    def _parse_head(self, head: bytes, size: int) -> bool:
        lines = head.split(b"\r\n")
        length = -1
        try:
            self.status = int(lines[0].split(b" ", 2)[1])
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
        except (IndexError, ValueError):
            length = -1
        if length < 0:
            self.shared.fail(f"unreadable response head: {head[:200]!r}")
            self._close()
            return False
        self.need = size + length
        return True

    def _done(self) -> bool:
        """Record one response; False when this connection stops."""
        now = time.perf_counter_ns()
        shared = self.shared
        if self.status == 200:
            shared.ok_total += 1
        else:
            shared.fail(f"status {self.status}")
        if shared.start_ns <= now <= shared.end_ns:
            if self.status == 200:
                shared.latencies.append(now - self.sent_at)
            else:
                shared.errors += 1
        if now >= shared.end_ns:
            self._close()
            return False
        self._send()
        return True

    def _close(self) -> None:
        self.finished = True
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished:  # the server hung up: this client stops, and it is an error
            self.shared.fail(f"connection closed by the server ({exc!r})")
            if time.perf_counter_ns() >= self.shared.start_ns:
                self.shared.errors += 1
        if not self.closed.done():
            self.closed.set_result(None)


class _Shared:
    def __init__(self, request: bytes, start_ns: int, end_ns: int) -> None:
        self.request = request
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.latencies: list[int] = []
        self.ok_total = 0
        self.errors = 0
        self.errors_total = 0
        self.first_error: str | None = None

    def fail(self, why: str) -> None:
        self.errors_total += 1
        if self.first_error is None:
            self.first_error = why


async def _load(port: int, request: bytes, concurrency: int, warmup: float, seconds: float) -> Any:
    loop = asyncio.get_running_loop()
    begin = time.perf_counter_ns()
    cpu = time.process_time()
    start_ns = begin + int(warmup * 1e9)
    shared = _Shared(request, start_ns, start_ns + int(seconds * 1e9))
    clients = []
    for _ in range(concurrency):
        _, client = await loop.create_connection(lambda: _Client(shared), "127.0.0.1", port)
        clients.append(client)
    timeout = warmup + seconds + 30.0
    await asyncio.wait_for(asyncio.gather(*(c.closed for c in clients)), timeout)
    busy = (time.process_time() - cpu) / ((time.perf_counter_ns() - begin) / 1e9)
    latencies = np.asarray(shared.latencies, dtype=np.float64) / 1000.0
    p50, p99, top = np.percentile(latencies, [50, 99, 100]) if len(latencies) else [np.nan] * 3
    return LoadResult(
        concurrency=concurrency,
        seconds=seconds,
        requests=len(latencies),
        rps=len(latencies) / seconds,
        p50_us=float(p50),
        p99_us=float(p99),
        max_us=float(top),
        errors=shared.errors,
        ok_total=shared.ok_total,
        errors_total=shared.errors_total,
        first_error=shared.first_error,
        busy=busy,
    )


def run_load(
    port: int,
    request: bytes,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    cpu: int | None,
    work: Path,
) -> LoadResult:
    """Run the load generator in a fresh process (pinned to ``cpu`` when given)."""
    path = work / f"request-{port}.bin"
    path.write_bytes(request)
    argv = [sys.executable, str(Path(__file__).resolve()), "--port", str(port)]
    argv += ["--request", str(path), "--concurrency", str(concurrency)]
    argv += ["--seconds", str(seconds), "--warmup", str(warmup)]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-3000:]}")
    return LoadResult(**json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--request", type=Path, required=True, help="raw request bytes")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    load = _load(args.port, args.request.read_bytes(), args.concurrency, args.warmup, args.seconds)
    result = runner(load)
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
