"""What every test client of the server shares: JSON request bodies, decoded replies."""

from __future__ import annotations

import json
from typing import Any

Reply = tuple[int, Any, dict[str, str]]
"""Status, the body (JSON decoded, text as str, anything else as bytes), the headers."""


class JsonClient:
    """``request``, ``post`` and ``get``; a subclass sends the bytes (:meth:`_exchange`)."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        given = {"content-type": "application/json", **(headers or {})}
        status, payload, answered = self._exchange(method, path, data, given)
        kind = next((v for k, v in answered.items() if k.lower() == "content-type"), "")
        decoded: Any = payload
        if "json" in kind:
            decoded = json.loads(payload)
        elif kind.startswith("text/"):
            decoded = payload.decode()
        return status, decoded, answered

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)
