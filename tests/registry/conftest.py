"""Tiny fitted models and recorded runs for the registry tests."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from forgeml.project import Project
from forgeml.registry import ModelBundle
from forgeml.store.models import ArtifactRecord, RunArtifactRecord, RunRecord, utcnow
from forgeml.store.rows import insert_ignore
from registry.gadgets import Scratch

RecordRun = Callable[..., str]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    """The folder crafted model files aim their side effects at."""
    found = Scratch(tmp_path / "scratch")
    monkeypatch.syspath_prepend(str(found.root))
    monkeypatch.setattr(tempfile, "tempdir", str(found.temp))
    return found


@pytest.fixture(scope="session")
def xy() -> tuple[np.ndarray, np.ndarray]:
    """200 rows, 4 features, a binary target that depends on two of them."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    return x, y


@pytest.fixture(scope="session")
def sklearn_bundle(xy: tuple[np.ndarray, np.ndarray]) -> ModelBundle:
    x, y = xy
    return ModelBundle(
        "sklearn",
        LogisticRegression().fit(x, y),
        {"columns": ["a", "b", "c", "d"]},
        {"task": "binary", "classes": [0, 1]},
    )


@pytest.fixture
def record_run(project: Project) -> RecordRun:
    """Record a finished run with the given JSON documents (and bundle id) as artifacts."""

    def record(artifacts: dict[str, Any], *, status: str = "finished") -> str:
        run_id = uuid.uuid4().hex
        stored = {}
        for name, value in artifacts.items():
            data = value if isinstance(value, bytes) else json.dumps(value).encode()
            stored[name] = value if name == "model/bundle" else project.artifacts.put_bytes(data)
        with project.store.write() as session:
            session.add(
                RunRecord(
                    id=run_id,
                    experiment="credit",
                    kind="train",
                    status=status,
                    params={},
                    tags={},
                    metrics={},
                    code_version={},
                    packages={},
                    host="test",
                    created_by="tester",
                    started_at=utcnow(),
                )
            )
            session.flush()
            for name, sha in stored.items():
                values = {"sha256": sha, "size_bytes": 1, "kind": "test", "created_at": utcnow()}
                insert_ignore(session, ArtifactRecord, values)
                session.add(RunArtifactRecord(run_id=run_id, name=name, artifact_sha256=sha))
        return run_id

    return record
