"""Fixtures shared by the training tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture
def one_thread_each(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One OpenMP thread per test, on the project's own stores.

    Tests run two at a time on two cores: OpenMP pools of two would fight over them.
    """
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    with threadpool_limits(limits=1):
        yield
