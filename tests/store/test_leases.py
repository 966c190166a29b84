"""Leases: one holder at a time, taken over only after expiry, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

from forgeml.project import Project
from forgeml.store import leases


def test_one_holder_until_expiry(project: Project) -> None:
    store = project.store
    with store.write() as s:
        assert leases.acquire(s, "loop:credit", "a", 0.5)
    with store.write() as s:
        assert not leases.acquire(s, "loop:credit", "b", 10)
    with store.write() as s:
        assert leases.acquire(s, "loop:credit", "a", 0.5)  # renewal
    with store.read() as s:
        assert leases.holder(s, "loop:credit") == "a"
    time.sleep(0.7)
    with store.read() as s:
        assert leases.holder(s, "loop:credit") is None
    with store.write() as s:
        assert leases.acquire(s, "loop:credit", "b", 10)
    with store.write() as s:
        leases.release(s, "loop:credit", "a")  # not a's: no effect
    with store.read() as s:
        assert leases.holder(s, "loop:credit") == "b"
    with store.write() as s:
        leases.release(s, "loop:credit", "b")
    with store.write() as s:
        assert leases.acquire(s, "loop:credit", "c", 10)


def test_concurrent_contenders_have_one_winner(project: Project) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def contend(name: str) -> None:
        barrier.wait()
        with project.store.write() as s:
            if leases.acquire(s, "loop:x", name, 30):
                winners.append(name)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
