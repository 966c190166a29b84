"""Clients that stall, flood or probe: deadlines, the connection cap, errors, rate limit, keys."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

import pytest

from forgeml.project import Project
from forgeml.serve.app import ServeOptions
from forgeml.serve.connections import ConnectionLimits
from forgeml.serve.ratelimit import RateLimit
from serve.serving import credit_table, live_server, record, register
from support import scaled

FAST = ConnectionLimits(header_timeout=0.5, body_timeout=0.5, keepalive_timeout=0.5)
SENTINEL = "zq-sentinel-7731"


@pytest.fixture
def lightgbm_project(sqlite_project: Project) -> Project:
    register(sqlite_project, flavor="lightgbm")
    return sqlite_project


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=scaled(20))


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def test_half_sent_headers_are_cut_off_with_408(lightgbm_project: Project) -> None:
    with live_server(lightgbm_project, log=False, limits=FAST) as (_, client):
        with _connect(client.port) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-")
            answer = _read_all(sock)  # the server closes it: no client timeout needed
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert client.post("/predict", record(credit_table(rows=3)))[0] == 200


def test_an_unterminated_chunked_body_is_cut_off(lightgbm_project: Project) -> None:
    with live_server(lightgbm_project, log=False, limits=FAST) as (app, client):
        with _connect(client.port) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b'5\r\n{"inc\r\n'
            )
            answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert client.post("/predict", record(credit_table(rows=3)))[0] == 200
    assert app.metrics.requests[("/predict", 500)] == 0


def test_idle_connections_are_closed(lightgbm_project: Project) -> None:
    with live_server(lightgbm_project, log=False, limits=FAST) as (_, client):
        with _connect(client.port) as fresh:  # never sends a byte
            assert _read_all(fresh) == b""
        with _connect(client.port) as used:  # one request, then silence
            used.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _read_all(used).startswith(b"HTTP/1.1 200 ")
        assert client.get("/health")[0] == 200
        time.sleep(1.5)  # the server closes the test client's kept-alive connection...
        assert client.get("/health")[0] == 200  # ...and the client opens a new one


def test_the_connection_cap_sheds_stalled_connections_first(lightgbm_project: Project) -> None:
    limits = ConnectionLimits(header_timeout=300, keepalive_timeout=300, max_connections=20)
    with live_server(lightgbm_project, log=False, limits=limits) as (_, client):
        stalled = []
        for _ in range(40):
            sock = _connect(client.port)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: loc")
            stalled.append(sock)
            time.sleep(0.01)
        try:
            assert client.post("/predict", record(credit_table(rows=3)))[0] == 200
            closed = []
            for i, sock in enumerate(stalled):
                sock.settimeout(0.5)
                try:
                    if sock.recv(1024).startswith(b"HTTP/1.1 408"):
                        closed.append(i)
                except TimeoutError:
                    pass
            # the cap holds (room for the client), and the oldest went first
            assert len(closed) >= 40 - 20 + 1
            assert closed[: 40 - 20] == list(range(40 - 20))
        finally:
            for sock in stalled:
                sock.close()


def test_start_raises_the_open_file_soft_limit_to_the_hard_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    code = (
        "import resource\n"
        "from forgeml.serve.connections import ConnectionLimits, configure\n"
        "applied = configure(ConnectionLimits(max_connections=10**9))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], applied.max_connections)\n"
    )

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lower,
        timeout=scaled(60),
    )
    raised, cap = (int(v) for v in done.stdout.split())
    expected = hard if hard != resource.RLIM_INFINITY else raised
    assert raised == expected and raised > low
    assert cap < raised  # the cap stays below the descriptors the process has


def test_errors_echo_nothing_the_client_sent(lightgbm_project: Project) -> None:
    options = ServeOptions(admin_key="admin", freeze_gc=False)
    with live_server(lightgbm_project, log=False, options=options) as (_, client):
        for method, path in (
            ("GET", f"/{SENTINEL}"),
            ("GET", f"/predict/{SENTINEL}?{SENTINEL}=1"),
            (SENTINEL.upper().replace("-", ""), "/predict"),
            ("DELETE", "/predict"),
            ("GET", f"/docs/assets/{SENTINEL}.js"),
        ):
            status, body, headers = client.request(method, path)
            assert status in (400, 404, 405), (method, path)
            assert SENTINEL not in str(body).lower() and SENTINEL not in str(headers).lower()
        status, _, headers = client.request("PUT", "/predict")
        assert status == 405 and headers["allow"] == "POST"
        change = {"mode": "off", "outcome": SENTINEL}
        status, body, _ = client.post("/admin/rollout", change, headers={"x-admin-key": "admin"})
        assert status == 422 and SENTINEL not in str(body)


def test_rate_limit_answers_429_with_retry_after(lightgbm_project: Project) -> None:
    options = ServeOptions(rate_limit=0.2, rate_burst=3, freeze_gc=False, api_key="k1")
    good = record(credit_table(rows=3))
    with live_server(lightgbm_project, log=False, options=options) as (_, client):
        key = {"x-api-key": "k1"}
        answers = [client.post("/predict", good, headers=key)[0] for _ in range(3)]
        assert answers == [200, 200, 200]
        status, body, headers = client.post("/predict", good, headers=key)
        assert status == 429 and "retry" in body["fix"].lower()
        assert 1 <= int(headers["retry-after"]) <= 5
        # a made-up key buys no new budget; probes are never limited
        assert client.post("/predict", good, headers={"x-api-key": "other"})[0] == 429
        assert all(client.get("/health")[0] == 200 for _ in range(10))
        with socket.create_connection(  # another client address has a budget of its own
            ("127.0.0.1", client.port), timeout=scaled(20), source_address=("127.0.0.2", 0)
        ) as other:
            other.sendall(b"GET /model HTTP/1.1\r\nHost: x\r\nX-API-Key: k1\r\n\r\n")
            assert other.recv(100).startswith(b"HTTP/1.1 200 ")


def test_no_rate_limit_by_default(lightgbm_project: Project) -> None:
    with live_server(lightgbm_project, log=False) as (_, client):
        good = record(credit_table(rows=3))
        assert {client.post("/predict", good)[0] for _ in range(50)} == {200}


def test_rate_limit_refills_and_forgets_quiet_clients() -> None:
    now = [0.0]
    limit = RateLimit(2.0, 2, max_clients=4, clock=lambda: now[0])
    assert limit.wait(b"a") == 0 and limit.wait(b"a") == 0
    assert limit.wait(b"a") == pytest.approx(0.5)
    now[0] += 0.5
    assert limit.wait(b"a") == 0
    for i in range(20):
        limit.wait(str(i).encode())
        now[0] += 10
    assert len(limit._buckets) <= 8
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)


def test_with_an_api_key_model_and_api_description_need_it(lightgbm_project: Project) -> None:
    options = ServeOptions(api_key="k-" + SENTINEL, freeze_gc=False)
    key = {"x-api-key": "k-" + SENTINEL}
    with live_server(lightgbm_project, log=False, options=options) as (_, client):
        for path in ("/model", "/openapi.json", "/docs"):
            status, body, _ = client.get(path)
            assert status == 401, path
            assert "7632" not in str(body)  # no training statistics
            assert client.get(path, headers=key)[0] == 200
        assert client.get("/health")[0] == 200 and client.get("/ready")[0] == 200
        assert client.get("/docs/assets/swagger-ui.css")[0] == 200  # no model in it
