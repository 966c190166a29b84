"""Many processes writing at once lose nothing and never corrupt the store."""

from __future__ import annotations

import hashlib
import multiprocessing as mp

import pytest

from forgeml.store import MetadataStore
from forgeml.store import datasets as queries
from support import record_version

PROCESSES = 8
WRITES = 200


def _writer(url: str, worker: int, writes: int) -> None:
    with MetadataStore(url) as store:
        for i in range(writes):
            digest = hashlib.sha256(f"{worker}-{i}".encode()).hexdigest()
            record_version(store, "shared", digest, created_by=f"writer-{worker}")
            if i % 50 == 0:  # everyone also stores one identical version now and then
                record_version(store, "same-content", "f" * 64)


@pytest.mark.slow
def test_concurrent_writers_get_distinct_consecutive_versions(db_url: str) -> None:
    MetadataStore(db_url).close()  # create the schema once, as 'forgeml init' does
    context = mp.get_context("fork")
    workers = [context.Process(target=_writer, args=(db_url, w, WRITES)) for w in range(PROCESSES)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=300)
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    with MetadataStore(db_url) as store, store.read() as session:
        shared = queries.list_versions(session, "shared")
        same = queries.list_versions(session, "same-content")
    assert [v.version for v in shared] == list(range(1, PROCESSES * WRITES + 1))
    expected = {
        hashlib.sha256(f"{w}-{i}".encode()).hexdigest()
        for w in range(PROCESSES)
        for i in range(WRITES)
    }
    assert {v.content_hash for v in shared} == expected
    assert [v.version for v in same] == [1]


def test_concurrent_first_open_of_a_new_store_creates_it_once(db_url: str) -> None:
    context = mp.get_context("fork")
    workers = [context.Process(target=_writer, args=(db_url, w, 1)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * 4
    with MetadataStore(db_url) as store, store.read() as session:
        assert len(queries.list_versions(session, "shared")) == 4
