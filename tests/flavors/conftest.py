"""A project and tiny fitted models of every flavor a user can bring."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forgeml.project import Project


@pytest.fixture(scope="module")
def byo_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One embedded project per test module (SQLite and local artifacts)."""
    saved = {k: os.environ.pop(k, None) for k in ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL")}
    found = Project.init(tmp_path_factory.mktemp("byo") / "proj", name="byo")
    yield found
    found.close()
    os.environ.update({k: v for k, v in saved.items() if v is not None})


@pytest.fixture(scope="session")
def table() -> tuple[pd.DataFrame, np.ndarray]:
    """120 rows of three numeric columns and a binary label that depends on two."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (frame["a"] - frame["b"] > 0).to_numpy().astype(np.int64)
    return frame, y


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unpickling entry point raises, so a load that needs pickle fails the test."""
    import pickle

    import torch

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("something tried to unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(torch, "load", refuse)


def write_keras_archive(path: Path, data: bytes, config: dict[str, object]) -> Path:
    """A copy of a .keras archive with its config.json replaced."""
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w") as out:
        for item in source.infolist():
            body = json.dumps(config).encode() if item.filename == "config.json" else None
            out.writestr(item, body if body is not None else source.read(item.filename))
    return path
