"""Alerts: stored once per model and key, printed, and POSTed to webhooks in the background.

An alert's ``key`` names what it is about (``drift:2025-07:income``); raising the same key
again returns the stored alert and sends nothing, so a monitor that runs twice over one
window alerts once. Delivery runs on a daemon thread with retries and a short timeout per
attempt: a webhook that is down never blocks monitoring. Alerts still undelivered are sent
again by the next :func:`deliver` (for example on the next monitoring run). A webhook URL
may hold a token, so only its scheme and host are ever logged or stored in an error.

>>> import tempfile
>>> from forgeml import Project
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> first = raise_alert(project, "credit", key="drift:2025-07", kind="drift",
...                     message="7 of 10 inputs drifted")
>>> again = raise_alert(project, "credit", key="drift:2025-07", kind="drift",
...                     message="7 of 10 inputs drifted")
>>> first.id == again.id, first.created, again.created
(True, True, False)
>>> [a.key for a in list_alerts(project, "credit")]
['drift:2025-07']
>>> project.close()
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from forgeml.errors import ConfigError
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.documents import finite_document
from forgeml.store import alerts as rows
from forgeml.store.models import AlertRecord

__all__ = ["Alert", "deliver", "list_alerts", "raise_alert", "safe_url"]

log = logging.getLogger("forgeml.monitor")
KINDS = ("drift", "performance", "quality", "loop")
SEVERITIES = ("warning", "critical")
ATTEMPTS = 3
TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Alert:
    """A stored alert. ``created`` is False when the key had already been raised."""

    id: int
    model: str
    key: str
    kind: str
    severity: str
    message: str
    details: dict[str, Any]
    window_start: datetime | None
    window_end: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: int
    created: bool = False

    @classmethod
    def from_record(cls, record: AlertRecord, *, created: bool = False) -> Alert:
        return cls(
            id=record.id,
            model=record.model,
            key=record.key,
            kind=record.kind,
            severity=record.severity,
            message=record.message,
            details=dict(record.details or {}),
            window_start=record.window_start,
            window_end=record.window_end,
            created_at=record.created_at,
            delivered_at=record.delivered_at,
            attempts=record.attempts,
            created=created,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "details": self.details,
            "window_start": _iso(self.window_start),
            "window_end": _iso(self.window_end),
            "created_at": _iso(self.created_at),
        }


def raise_alert(
    project: ProjectLike,
    model: str,
    *,
    key: str,
    kind: str,
    message: str,
    severity: str = "warning",
    details: Mapping[str, Any] | None = None,
    window: tuple[datetime | None, datetime | None] = (None, None),
) -> Alert:
    """Store the alert unless its key was raised before; returns the stored alert."""
    if kind not in KINDS:
        raise ConfigError(f"alert kind '{kind}' is unknown", fix=f"use one of {KINDS}")
    if severity not in SEVERITIES:
        raise ConfigError(f"severity '{severity}' is unknown", fix=f"use one of {SEVERITIES}")
    found = resolve_project(project)
    document = finite_document(details or {}, "alert details")
    with found.store.write() as session:
        record, created = rows.add(
            session,
            model=model,
            key=key[:300],
            kind=kind,
            severity=severity,
            message=message,
            details=document,
            window_start=window[0],
            window_end=window[1],
        )
        return Alert.from_record(record, created=created)


def list_alerts(
    project: ProjectLike, model: str | None = None, *, since: datetime | None = None
) -> list[Alert]:
    """Stored alerts, oldest first."""
    found = resolve_project(project)
    query = select(AlertRecord)
    if model is not None:
        query = query.where(AlertRecord.model == model)
    if since is not None:
        query = query.where(AlertRecord.created_at >= since)
    with found.store.read() as session:
        return [Alert.from_record(r) for r in session.scalars(query.order_by(AlertRecord.id))]


def deliver(
    project: ProjectLike, webhooks: Sequence[str], *, wait: bool = False
) -> threading.Thread | None:
    """POST every undelivered alert to each webhook, on a daemon thread.

    Each alert is tried up to :data:`ATTEMPTS` times per webhook with backoff; the outcome
    (attempts, delivery time, the last error) is stored. With ``wait`` the call returns
    after the thread finished (tests, one-shot commands); otherwise at once.
    """
    for url in webhooks:
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(
                f"webhook {safe_url(url)} is not an http(s) URL",
                fix="use e.g. https://hooks.example.com/forgeml",
            )
    if not webhooks:
        return None
    found = resolve_project(project)
    thread = threading.Thread(
        target=_deliver_all, args=(found, list(webhooks)), name="forgeml-alerts", daemon=True
    )
    thread.start()
    if wait:
        thread.join()
    return thread


def safe_url(url: str) -> str:
    """The URL without path, query or credentials: what may be shown or logged."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def _deliver_all(project: Any, webhooks: list[str]) -> None:
    try:
        with project.store.read() as session:
            pending = [Alert.from_record(r) for r in rows.undelivered(session)]
    except Exception as error:
        log.warning("cannot read undelivered alerts: %s", error)
        return
    for alert in pending:
        body = json.dumps({"alert": alert.to_dict()}).encode()
        errors = [e for e in (_post(url, body) for url in webhooks) if e]
        try:
            with project.store.write() as session:
                rows.mark_attempt(
                    session, alert.id, delivered=not errors, error="; ".join(errors) or None
                )
        except Exception as error:
            log.warning("cannot record the delivery of alert %s: %s", alert.id, error)


def _post(url: str, body: bytes) -> str | None:
    """Send with retries; None on success, else what went wrong (without the URL's path)."""
    problem = ""
    for attempt in range(ATTEMPTS):
        request = urllib.request.Request(
            url, data=body, headers={"content-type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                if 200 <= response.status < 300:
                    return None
                problem = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            problem = type(getattr(error, "reason", error)).__name__
        if attempt + 1 < ATTEMPTS:
            time.sleep(0.2 * 2**attempt)
    message = f"{safe_url(url)}: {problem} after {ATTEMPTS} attempts"
    log.warning("alert webhook failed: %s", message)
    return message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
