"""Calling the serving app in process, without a socket: one ASGI request at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

from forgeml.serve.app import ModelServer


class InProcessClient:
    """Sends requests straight to a :class:`ModelServer`'s ASGI entry point."""

    def __init__(self, app: ModelServer) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        given = {"content-type": "application/json", **(headers or {})}
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in given.items()],
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        out_headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        kind = out_headers.get("content-type", "")
        decoded = json.loads(payload) if "json" in kind else payload.decode()
        return int(start["status"]), decoded, out_headers

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("GET", path, **kw)

    def close(self) -> None:
        self.loop.close()
