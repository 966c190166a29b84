"""An optional request rate limit per client: a token bucket per client address.

Each client may send ``rate`` requests a second on average and ``burst`` at once; past that
the server answers ``429 Too Many Requests`` with ``Retry-After`` (whole seconds). A client
is its address (not a key it sends: a caller could send a new made-up key each time).
Buckets of clients that have been quiet long enough to be full again are forgotten, so
memory stays bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RateLimit"]


class RateLimit:
    """``rate`` requests a second per client, ``burst`` at once."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError("the rate limit must be a positive number of requests a second")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, math.ceil(rate)))
        if self.burst < 1:
            raise ValueError("the burst must be at least one request")
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[bytes, tuple[float, float]] = {}  # client -> (tokens, at)

    def wait(self, client: bytes) -> float:
        """0 when ``client`` may go on (its request is counted), else seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            self._forget(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        """Drop the oldest buckets that are full again once there are too many clients."""
        if len(self._buckets) <= self.max_clients:
            return
        refill = self.burst / self.rate
        for client in list(self._buckets)[: len(self._buckets) // 2]:
            _, at = self._buckets[client]
            if at + refill <= now or len(self._buckets) > 2 * self.max_clients:
                del self._buckets[client]

    @staticmethod
    def retry_after(seconds: float) -> bytes:
        """The ``Retry-After`` value for a wait of ``seconds``."""
        return str(max(1, math.ceil(seconds))).encode()
