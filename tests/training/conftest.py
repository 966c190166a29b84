"""Fixtures shared by the training tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from threadpoolctl import threadpool_limits

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.project import Project


@pytest.fixture
def one_thread_each(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One OpenMP thread per test, on the project's own stores.

    Tests run two at a time on two cores: OpenMP pools of two would fight over them.
    """
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def lightgbm_project(tmp_path: Path) -> Iterator[Callable[[int], Project]]:
    """Makes a project whose spec trains one LightGBM trial (10 minutes' time budget) on a
    dataset of ``rows`` rows: two numeric columns and a noisy binary target."""
    made: list[Project] = []

    def make(rows: int) -> Project:
        rng = np.random.default_rng(3)
        x = rng.normal(size=(rows, 3))
        table = pa.table({"a": x[:, 0], "b": x[:, 1], "y": x[:, 0] + rng.normal(size=rows) > 0})
        root = tmp_path / f"p{len(made)}"
        root.mkdir()
        (root / SPEC_FILE).write_text(
            "train:\n  target: y\n  candidates: [lightgbm]\n  budget: {trials: 1, time: 10m}\n"
        )
        project = Project.init(root)
        made.append(project)
        ingest(table, name="data", project=project)
        return project

    yield make
    for project in made:
        project.close()
