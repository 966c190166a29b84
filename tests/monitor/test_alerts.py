"""Alerts: de-duplicated in the store, delivered to real webhooks on localhost, never blocking."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from forgeml.errors import ConfigError
from forgeml.monitor.alerts import deliver, list_alerts, raise_alert, safe_url
from forgeml.project import Project


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
        else:
            type(self).received.append(body)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "fail_first": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cret", handler
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_alerts_are_deduplicated_and_delivered_once(
    project: Project, hook: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook
    for _ in range(3):
        raise_alert(project, "credit", key="drift:07", kind="drift", message="drifted")
    raise_alert(
        project,
        "credit",
        key="auc:07",
        kind="performance",
        message="auc fell",
        severity="critical",
        details={"auc": 0.61, "nan": float("nan")},
    )
    deliver(project, [url], wait=True)
    deliver(project, [url], wait=True)  # nothing left to send
    assert sorted(b["alert"]["key"] for b in handler.received) == ["auc:07", "drift:07"]
    alerts = list_alerts(project, "credit")
    assert [a.attempts for a in alerts] == [1, 1]
    assert all(a.delivered_at is not None for a in alerts)
    assert alerts[1].details == {"auc": 0.61, "nan": None}


def test_a_failing_webhook_is_retried_and_a_dead_one_never_blocks(
    sqlite_project: Project, hook: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook
    handler.fail_first = 2  # two 503s, then success within the retries
    raise_alert(sqlite_project, "credit", key="k1", kind="quality", message="nulls")
    deliver(sqlite_project, [url], wait=True)
    assert len(handler.received) == 1
    dead = f"http://127.0.0.1:{_closed_port()}/x?token=s3cret"
    raise_alert(sqlite_project, "credit", key="k2", kind="quality", message="nulls")
    started = time.monotonic()
    thread = deliver(sqlite_project, [dead])
    assert time.monotonic() - started < 0.5  # returns at once
    assert thread is not None
    thread.join(timeout=30)
    k2 = next(a for a in list_alerts(sqlite_project) if a.key == "k2")
    assert k2.delivered_at is None and k2.attempts == 1
    with sqlite_project.store.read() as session:
        from forgeml.store.models import AlertRecord

        error = session.get(AlertRecord, k2.id).last_error  # type: ignore[union-attr]
    assert error is not None and "s3cret" not in error and "after 3 attempts" in error
    deliver(sqlite_project, [url], wait=True)  # the next run delivers what is left
    assert [b["alert"]["key"] for b in handler.received] == ["k1", "k2"]


def test_bad_alerts_and_webhooks_are_refused(sqlite_project: Project) -> None:
    with pytest.raises(ConfigError, match="kind"):
        raise_alert(sqlite_project, "credit", key="k", kind="weird", message="x")
    with pytest.raises(ConfigError, match="http"):
        deliver(sqlite_project, ["file:///etc/passwd"])
    assert safe_url("https://user:pw@hooks.example.com:8443/a/b?token=1") == (
        "https://hooks.example.com:8443/…"
    )
