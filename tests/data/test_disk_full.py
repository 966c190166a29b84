"""A full disk while writing a dataset version: a clear error, nothing partial, store unchanged."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from forgeml import ingest, versions
from forgeml.errors import ArtifactError
from forgeml.project import Project


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def _frame(rows: int, seed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"x": [float(i * seed) for i in range(rows)], "y": ["a", "b"] * (rows // 2)}
    )


def test_a_full_disk_while_writing_parquet_stores_nothing(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(_frame(100, 1), name="sales", project=sqlite_project)
    store = sqlite_project.state_dir / "artifacts"
    before = _files(store)
    temp_before = _files(sqlite_project.tmp_dir)

    def disk_full(self: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full)
    with pytest.raises(ArtifactError, match="No space left on device; nothing was stored") as info:
        ingest(_frame(100, 2), name="sales", project=sqlite_project)
    assert "free disk space" in str(info.value.fix)
    assert [v.version for v in versions("sales", project=sqlite_project)] == [1]
    assert _files(store) == before
    assert _files(sqlite_project.tmp_dir) == temp_before == {}
