"""The micro-batcher scores one batch at a time, and the requests that arrived meanwhile
go as soon as it is done, without waiting for the timer."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np

from forgeml.serve.microbatch import MicroBatcher


def test_batches_queue_behind_the_one_being_scored_and_go_without_waiting() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[list[float]] = []
    running: list[int] = []
    most = [0]

    def score(x: np.ndarray) -> np.ndarray:
        running.append(1)
        most[0] = max(most[0], len(running))
        calls.append(x[:, 0].tolist())
        if len(calls) == 1:  # the first batch holds the scorer until the others queued
            started.set()
            release.wait(60)
        running.pop()
        return x * 2

    async def main() -> list[Any]:
        batcher = MicroBatcher(max_batch=4, max_wait=0.0)
        parts = [np.full((1, 2), float(i)) for i in range(7)]
        first = asyncio.ensure_future(batcher.submit(score, parts[0]))
        await asyncio.to_thread(started.wait, 60)
        batcher.max_wait = 600.0  # a batch that waited for its timer would take ten minutes
        rest = [asyncio.ensure_future(batcher.submit(score, p)) for p in parts[1:]]
        await asyncio.sleep(0)
        release.set()
        return list(await asyncio.wait_for(asyncio.gather(first, *rest), timeout=120))

    answers = asyncio.run(main())
    assert calls == [[0.0], [1.0, 2.0, 3.0, 4.0], [5.0, 6.0]]
    assert most[0] == 1  # never two forward passes at once
    assert [a.tolist() for a in answers] == [[[2.0 * i, 2.0 * i]] for i in range(7)]
