"""Dynamic micro-batching: concurrent requests to a neural model scored as one batch.

A network's forward pass costs nearly the same for one row as for sixteen, so a server
under concurrent load answers more requests a second when it groups them. The first
request to arrive opens a batch and waits at most ``max_wait`` seconds; requests that
arrive meanwhile join it until it holds ``max_batch`` rows; the batch is then scored in
one call (off the event loop, so more requests queue for the next batch meanwhile) and
each request gets its own rows back. A lone request waits ``max_wait`` at most: the
price of batching at low load (as in Triton's ``max_queue_delay``), so it is off unless
``forgeml serve --max-batch N`` asks for it.

One batch is scored at a time. Requests that arrive while a batch is being scored form
the next one, which is scored as soon as that batch is done, without waiting for the
timer: under load, batches grow to what arrives during one forward pass, and two forward
passes never compete for the same cores.

>>> import asyncio
>>> calls = []
>>> def score(x):
...     calls.append(len(x))
...     return x * 2
>>> async def main():
...     batcher = MicroBatcher(max_batch=8, max_wait=0.05)
...     parts = [np.full((1, 2), float(i)) for i in range(3)]
...     return await asyncio.gather(*(batcher.submit(score, p) for p in parts))
>>> [r.tolist() for r in asyncio.run(main())], calls
([[[0.0, 0.0]], [[2.0, 2.0]], [[4.0, 4.0]]], [3])
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MicroBatcher"]

Score = Callable[[np.ndarray], Any]


@dataclass
class _Open:
    score: Score
    parts: list[np.ndarray] = field(default_factory=list)
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)
    rows: int = 0


class MicroBatcher:
    """Groups concurrent ``submit`` calls with the same scoring function into one call."""

    def __init__(self, *, max_batch: int = 32, max_wait: float = 0.002) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError("max_batch must be at least 1 and max_wait not negative")
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._open: _Open | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed: deque[_Open] = deque()  # full batches waiting for the one being scored
        self._scoring = False
        self.batches = 0
        self.rows = 0

    async def submit(self, score: Score, part: np.ndarray) -> Any:
        """``score`` applied to ``part``, computed together with concurrent parts.

        ``score`` takes the stacked rows and returns an array (or a sequence of arrays)
        with one entry per row; each caller gets the slice for its own rows. An exception
        raised by ``score`` is raised to every caller in the batch.
        """
        loop = asyncio.get_running_loop()
        if len(part) >= self.max_batch:
            return await asyncio.to_thread(score, part)
        batch = self._open
        if batch is not None and (batch.score != score or batch.rows + len(part) > self.max_batch):
            self._close()
            batch = None
        if batch is None:
            batch = self._open = _Open(score)
            if not self._scoring:  # else it goes when the batch being scored is done
                self._timer = loop.call_later(self.max_wait, self._close)
        waiter: asyncio.Future[Any] = loop.create_future()
        batch.parts.append(part)
        batch.waiters.append(waiter)
        batch.rows += len(part)
        if batch.rows >= self.max_batch:
            self._close()
        return await waiter

    def _close(self) -> None:
        """The open batch takes no more rows: scored now, or after the one being scored."""
        batch, self._open = self._open, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if batch is not None:
            self._closed.append(batch)
            if not self._scoring:
                self._next()

    def _next(self) -> None:
        self._scoring = True
        asyncio.get_running_loop().create_task(self._run(self._closed.popleft()))

    async def _run(self, batch: _Open) -> None:
        try:
            await self._score(batch)
        finally:
            self._scoring = False
            if self._closed:
                self._next()
            elif self._open is not None:  # arrived during that batch: no reason to wait
                self._close()

    async def _score(self, batch: _Open) -> None:
        self.batches += 1
        self.rows += batch.rows
        stacked = batch.parts[0] if len(batch.parts) == 1 else np.concatenate(batch.parts)
        try:
            out = await asyncio.to_thread(batch.score, stacked)
        except Exception as e:  # every caller of the batch gets the scorer's error
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(e)
            return
        start = 0
        for part, waiter in zip(batch.parts, batch.waiters, strict=True):
            end = start + len(part)
            if not waiter.done():
                waiter.set_result(_rows(out, start, end))
            start = end


def _rows(out: Any, start: int, end: int) -> Any:
    if isinstance(out, np.ndarray):
        return out[start:end]
    return type(out)(*(None if v is None else v[start:end] for v in out))
