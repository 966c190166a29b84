"""Calling the serving app in process, without a socket: one ASGI request at a time."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from forgeml.serve.app import ModelServer
from serve.clients import JsonClient


class InProcessClient(JsonClient):
    """Sends requests straight to a :class:`ModelServer`'s ASGI entry point."""

    def __init__(self, app: ModelServer) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": data or b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        self.loop.run_until_complete(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        answered = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        return int(start["status"]), payload, answered

    def close(self) -> None:
        self.loop.close()
