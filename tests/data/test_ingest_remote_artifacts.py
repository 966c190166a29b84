"""A project whose artifacts live in an object store ingests and reads back the same way."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from forgeml.data import dataset, ingest
from forgeml.project import Project
from support import BUCKET, S3Server


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": range(100), "score": [i / 7 for i in range(100)]})


def _round_trip(root: Path) -> None:
    with Project.init(root) as project:
        stored = ingest(_frame(), name="scores", project=project).version
        again = ingest(_frame(), name="scores", project=project)
        assert not again.created and again.version.version == stored.version == 1
        assert project.artifacts.exists(stored.artifact_sha256)
        back = dataset("scores@1", project=project).to_pandas()
        pd.testing.assert_frame_equal(back, _frame(), check_dtype=False)
        assert not list((root / ".forgeml").glob("artifacts/sha256/*"))  # nothing local


def test_memory_artifact_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.setenv("FORGEML_ARTIFACTS_URL", f"memory://forgeml-{uuid.uuid4().hex}")
    _round_trip(tmp_path / "proj")


def test_s3_artifact_store_configured_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_server: S3Server
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.setenv("FORGEML_ARTIFACTS_URL", f"s3://{BUCKET}/project-{uuid.uuid4().hex}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    _round_trip(tmp_path / "proj")
