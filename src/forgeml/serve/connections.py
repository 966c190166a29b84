"""Guards on the server's connections, so that slow or stalled clients cannot hold it.

uvicorn's HTTP protocol, with four limits added (:class:`ConnectionLimits`):

- the request headers must arrive within ``header_timeout`` seconds of their first byte;
- the body must arrive within ``body_timeout`` seconds of the headers (a chunked body that
  never ends, or one that drips a byte at a time, is cut off);
- a connection with no request on it is closed after ``keepalive_timeout`` seconds (also a
  fresh connection that never sends a byte);
- at most ``max_connections`` connections are open per process: past that, the one that has
  stalled longest (waiting for headers, then idle, then waiting for a body) is closed to make
  room; a connection whose request is being answered is never shed.

A request cut off while it was being sent is answered ``408 Request Timeout``. The process's
soft limit on open files is raised to its hard limit at start (:func:`raise_open_file_limit`),
and the cap stays below it, so a flood of connections cannot take the descriptors the server
needs for its own files.
"""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "GuardedProtocol", "configure", "raise_open_file_limit"]

PROTOCOL = "forgeml.serve.connections:GuardedProtocol"
_RESERVED_FILES = 64  # descriptors kept for the log, the store and the model's files

# Phases of a connection, in the order stalled ones are shed.
_HEADERS, _IDLE, _BODY, _BUSY = 0, 1, 2, 3
_TIMEOUT_BODY = (
    b'{"error":"the request was not sent in time","fix":"send the whole request at once"}'
)
_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: "
    + str(len(_TIMEOUT_BODY)).encode()
    + b"\r\nconnection: close\r\n\r\n"
    + _TIMEOUT_BODY
)


@dataclass(frozen=True)
class ConnectionLimits:
    """Deadlines (seconds) and the cap on open connections; see the module's docstring."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 5.0
    max_connections: int = 2048

    def capped(self, open_files: int) -> ConnectionLimits:
        """These limits with the cap kept below ``open_files`` descriptors."""
        room = max(1, open_files - _RESERVED_FILES)
        if self.max_connections <= room:
            return self
        return ConnectionLimits(
            self.header_timeout, self.body_timeout, self.keepalive_timeout, room
        )


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    elif hard == resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY:
        for target in (1 << 20, 1 << 16):  # the kernel's nr_open caps an infinite hard limit
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
                break
            except (ValueError, OSError):
                continue
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def configure(limits: ConnectionLimits) -> ConnectionLimits:
    """Raise the open-file limit and apply ``limits`` (capped to it) to every new connection."""
    applied = limits.capped(raise_open_file_limit())
    GuardedProtocol.limits = applied
    return applied


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body and idle deadlines and a connection cap."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _IDLE
        self._since = 0.0
        self._deadline: asyncio.TimerHandle | None = None

    # ---- uvicorn's callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(_IDLE, self.limits.keepalive_timeout)
        if len(self.connections) > self.limits.max_connections:
            self._shed()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _IDLE:
            self._enter(_HEADERS, self.limits.header_timeout)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._enter(_BODY, self.limits.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._enter(_BUSY, None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._phase == _BUSY:
            self._enter(_IDLE, self.limits.keepalive_timeout)

    # ---- deadlines -------------------------------------------------------------------

    def _enter(self, phase: int, timeout: float | None) -> None:
        self._disarm()
        self._phase = phase
        self._since = self.loop.time()
        if timeout is not None:
            self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle if self._phase == _BODY else None
        if self._phase == _HEADERS or (cycle is not None and not cycle.response_started):
            self.transport.write(_TIMEOUT_REPLY)
        if cycle is not None:  # the app's read ends now, and what it sends goes nowhere
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _shed(self) -> None:
        """Close the connection that has stalled longest; this one if none has."""
        stalled = [
            c
            for c in self.connections
            if isinstance(c, GuardedProtocol) and c._phase != _BUSY and c is not self
        ]
        if not stalled:
            self.transport.close()
            return
        oldest = min(stalled, key=lambda c: (c._phase, c._since))
        oldest._disarm()
        oldest._expire()
