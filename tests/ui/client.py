"""Calling the UI app in process (no socket): GET pages and POST forms."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from forgeml.ui.app import UIApp


class UIClient:
    def __init__(self, app: UIApp) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def request(
        self,
        method: str,
        url: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, dict[str, str]]:
        parts = urlsplit(url)
        body = urlencode(form or {}).encode()
        given = {"host": "127.0.0.1:8080", **(headers or {})}
        if form is not None:
            given["content-type"] = "application/x-www-form-urlencoded"
        scope = {
            "type": "http",
            "method": method,
            "path": unquote(parts.path),
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in given.items()],
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        out = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        return int(start["status"]), payload.decode("utf-8", "replace"), out

    def get(self, url: str, **kw: Any) -> tuple[int, str, dict[str, str]]:
        return self.request("GET", url, **kw)

    def post(self, url: str, form: dict[str, str], **kw: Any) -> tuple[int, str, dict[str, str]]:
        return self.request("POST", url, form, **kw)

    def close(self) -> None:
        self.loop.close()
