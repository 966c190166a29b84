"""Stalled connections: how many half-sent requests `forgeml serve` holds while a normal
client is still answered within 1 s.

Claim: with N stalled connections open (each sent half a request's headers, then nothing),
`forgeml serve` holds at least 1,000 of them and still answers a new client's POST /predict
within 1 s, also when started under a soft limit of 1,024 open files. The baseline is a bare
uvicorn app (the same model, uvicorn's own defaults) under the same conditions.

"Held" is counted on the server's side: the sockets open in the server's processes (from
/proc) minus those open before the flood. Run:

    .venv/bin/python benchmarks/serving/slowloris.py            # 2,000 stalled connections
    .venv/bin/python benchmarks/serving/slowloris.py --stalled 1200 --rows 2000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import model  # noqa: E402
from servers import Server, free_port, post_json  # noqa: E402

TARGET_HELD = 1_000
TARGET_SECONDS = 1.0
HALF_REQUEST = b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: applica"


def open_sockets(session: int) -> int:
    """Sockets open in every process of the server's session."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            fds = Path(stat.parent, "fd")
            total += sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))
        except (OSError, IndexError, ValueError):
            continue
    return total


def flood(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request and stall."""
    stalled = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(HALF_REQUEST)
        except OSError:
            break
        stalled.append(sock)
    return stalled


def answered_in(port: int, body: bytes, tries: int = 5) -> float:
    """The slowest of ``tries`` fresh-connection POST /predict (inf when one fails)."""
    worst = 0.0
    for _ in range(tries):
        started = time.perf_counter()
        try:
            status, _ = post_json(port, "/predict", body)
        except OSError:
            return float("inf")
        elapsed = time.perf_counter() - started
        if status != 200:
            return float("inf")
        worst = max(worst, elapsed)
        time.sleep(0.1)
    return worst


def measure(server: Server, body: bytes, stalled: int) -> tuple[int, float, int]:
    """(held stalled connections, slowest normal answer in s, connections the client opened)."""
    assert server.process is not None
    before = open_sockets(server.process.pid)
    sockets = flood(server.port, stalled)
    try:
        seconds = answered_in(server.port, body)
        held = max(0, open_sockets(server.process.pid) - before)
    finally:
        for sock in sockets:
            sock.close()
    return held, seconds, len(sockets)


def start(
    name: str, argv: list[str], env: dict[str, str], port: int, work: Path, soft: int | None
) -> Server:
    server = Server(name, argv, env, port, "/health", work / f"{name}-{port}.log")
    if soft is None:
        server.start()
        return server
    # the child starts under a soft limit of `soft` open files (set before exec)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    previous = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        server.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, previous)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stalled", type=int, default=2000, help="stalled connections to open")
    parser.add_argument("--rows", type=int, default=5000, help="training rows of the model")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client needs the sockets
    print(
        f"open files: soft {soft}, hard {hard}; {os.cpu_count()} CPUs; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"stalled connections opened: {args.stalled}, each {len(HALF_REQUEST)} bytes of headers")
    failed = False
    with tempfile.TemporaryDirectory(prefix="forgeml-slowloris-") as folder:
        work = Path(folder)
        data = model.table(args.rows)
        booster, pipeline, signature = model.train(data)
        model.register(work / "project", booster, pipeline, signature)
        booster.save_model(str(work / "model.txt"))
        body = json.dumps(model.payload_record(data)).encode()
        env = dict(os.environ, FORGEML_PROJECT=str(work / "project"))
        print(
            f"{'server':10} {'soft limit':>10} {'opened':>7} {'held':>6} {'answer s':>9}  verdict"
        )
        for limit in (None, 1024):
            rows = []
            for name in ("forgeml", "bare"):
                port = free_port()
                if name == "forgeml":
                    command = [sys.executable, "-m", "forgeml.cli", "serve", model.MODEL_NAME]
                    command += ["--port", str(port), "--no-log"]
                else:
                    command = [sys.executable, str(HERE / "bare_app.py")]
                    command += ["--model", str(work / "model.txt"), "--port", str(port)]
                server = start(name, command, env, port, work, limit)
                try:
                    held, seconds, opened = measure(server, body, args.stalled)
                finally:
                    server.stop()
                ok = held >= TARGET_HELD and seconds <= TARGET_SECONDS
                rows.append((name, held, seconds))
                shown = "fail" if seconds == float("inf") else f"{seconds:.3f}"
                verdict = ("PASS" if ok else "MISS") if name == "forgeml" else "(baseline)"
                limit_text = str(limit) if limit else "as is"
                print(f"{name:10} {limit_text:>10} {opened:>7} {held:>6} {shown:>9}  {verdict}")
                failed |= name == "forgeml" and not ok
                time.sleep(1.0)  # let the kernel release the closed sockets
            (_, ours, _), (_, theirs, _) = rows
            ratio = f"{ours / theirs:.2f}x" if theirs else "n/a (baseline held none)"
            print(f"  held, forgeml / bare: {ratio}")
    print(
        f"target: >= {TARGET_HELD} stalled connections held while a new client is answered "
        f"within {TARGET_SECONDS:.0f} s, with and without a soft limit of 1,024: "
        + ("MISS" if failed else "PASS")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
