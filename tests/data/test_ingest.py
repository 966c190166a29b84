"""Ingest stores immutable, content-addressed, validated dataset versions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine

import forgeml
from forgeml.config import SPEC_FILE
from forgeml.data import dataset, ingest, list_datasets, versions
from forgeml.errors import ConfigError, IntegrityError, NotFound, ValidationFailed
from forgeml.project import Project


def _frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "amount": rng.normal(100, 15, n).round(3),
            "region": rng.choice(["north", "south"], n),
            "signed_up": pd.date_range("2024-01-01", periods=n, freq="h"),
            "active": rng.random(n) > 0.5,
        }
    )


def test_identical_data_gives_the_same_version_and_changes_give_new_ones(project: Project) -> None:
    first = ingest(_frame(), name="sales", project=project)
    again = ingest(_frame(), name="sales", project=project)
    changed = ingest(_frame(seed=1), name="sales", project=project)
    assert first.created and not again.created and changed.created
    assert again.version.version == first.version.version == 1
    assert changed.version.version == 2
    assert changed.version.content_hash != first.version.content_hash
    assert [v.version for v in versions("sales", project=project)] == [1, 2]


def test_same_data_from_any_source_has_the_same_content_hash(
    sqlite_project: Project, tmp_path: Path
) -> None:
    frame = _frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, tmp_path / "d.csv")
    pq.write_table(table, tmp_path / "d.parquet")
    hashes = {
        ingest(src, name="d", project=sqlite_project).version.content_hash
        for src in (frame, table, tmp_path / "d.csv", tmp_path / "d.parquet")
    }
    polars = pytest.importorskip("polars")
    hashes.add(
        ingest(polars.from_pandas(frame), name="d", project=sqlite_project).version.content_hash
    )
    assert len(hashes) == 1
    assert len(versions("d", project=sqlite_project)) == 1


def test_stored_version_reads_back_with_schema_and_profile(project: Project) -> None:
    frame = _frame()
    stored = ingest(frame, name="sales", project=project).version
    back = dataset("sales@1", project=project).to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    columns = {c["name"]: c for c in stored.schema["columns"]}
    assert columns["region"]["kind"] == "category"
    assert columns["region"]["categories"] == ["north", "south"]
    assert columns["signed_up"]["kind"] == "timestamp"
    assert stored.schema["timestamp_columns"] == ["signed_up"]
    assert columns["amount"]["min"] == pytest.approx(frame["amount"].min())
    amount = stored.profile["columns"]["amount"]
    assert amount["mean"] == pytest.approx(frame["amount"].mean())
    assert amount["quantiles"]["0.5"] == pytest.approx(frame["amount"].median(), rel=0.01)


def test_validation_failure_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    root = tmp_path / "p"
    root.mkdir()
    (root / SPEC_FILE).write_text(
        "datasets:\n  sales:\n    validation:\n      columns:\n"
        "        amount: {min: 0, max: 120}\n        region: {allowed: [north]}\n"
    )
    with Project.init(root) as project:
        before = sorted(p.name for p in (root / ".forgeml").rglob("*") if p.is_file())
        with pytest.raises(ValidationFailed) as info:
            ingest(_frame(), name="sales", project=project)
        rules = {(v.column, v.rule) for v in info.value.violations}
        assert rules == {("amount", "max 120"), ("region", "allowed")}
        assert list_datasets(project=project) == []
        after = sorted(p.name for p in (root / ".forgeml").rglob("*") if p.is_file())
        assert after == before
        assert not list((root / ".forgeml" / "artifacts").rglob("*.parquet"))


def test_the_profile_keeps_every_rule_ingest_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    root = tmp_path / "p"
    root.mkdir()
    (root / SPEC_FILE).write_text(
        "datasets:\n  sales:\n    validation:\n      rows: {min: 10, max: 1000}\n"
        "      required: [id]\n      columns:\n"
        "        id: {type: integer, nullable: false, unique: true}\n"
        "        amount: {min: 0, max_null_fraction: 0.1}\n"
        "        region: {allowed: [north, south]}\n"
    )
    with Project.init(root) as project:
        stored = ingest(_frame(), name="sales", project=project).version
        again = dataset("sales@1", project=project)
        unruled = ingest(_frame(), name="plain", project=project).version
    expected = [
        ("rows >= 10", "(table)"),
        ("rows <= 1000", "(table)"),
        ("required", "id"),
        ("type integer", "id"),
        ("not null", "id"),
        ("unique", "id"),
        ("required", "amount"),
        ("max_null_fraction 0.1", "amount"),
        ("min 0", "amount"),
        ("required", "region"),
        ("allowed: 'north', 'south'", "region"),
    ]
    assert again.profile["validation"] == stored.profile["validation"]
    assert [(r["rule"], r["column"]) for r in stored.profile["validation"]] == expected
    assert {r["result"] for r in stored.profile["validation"]} == {"passed"}
    assert unruled.profile["validation"] == [
        {"rule": "rows >= 1", "column": "(table)", "result": "passed"}
    ]


def test_tampered_artifact_is_refused_on_read(sqlite_project: Project) -> None:
    stored = ingest(_frame(), name="sales", project=sqlite_project).version
    path = next(p for p in (sqlite_project.state_dir / "artifacts").rglob(stored.artifact_sha256))
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        dataset("sales", project=sqlite_project).to_arrow()


def test_lookups_explain_what_is_missing(project: Project) -> None:
    ingest(_frame(), name="sales", project=project)
    with pytest.raises(NotFound, match="did you mean 'sales'"):
        dataset("sale", project=project)
    with pytest.raises(NotFound, match="has no version 7"):
        dataset("sales@7", project=project)
    with pytest.raises(ConfigError, match="invalid version"):
        dataset("sales@x", project=project)


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "x" * 201, "with space", "@1"])
def test_unsafe_dataset_names_are_refused(sqlite_project: Project, name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid dataset name"):
        ingest(_frame(), name=name, project=sqlite_project)


def test_sql_sources_on_sqlite_and_postgres(project: Project, tmp_path: Path, pg_url: str) -> None:
    frame = _frame(50)
    for url in (f"sqlite:///{tmp_path / 'src.db'}", pg_url):
        engine = create_engine(url)
        frame.to_sql("orders", engine, index=False, if_exists="replace")
        engine.dispose()
        result = ingest(
            url,
            query="SELECT id, amount, region FROM orders WHERE amount > 100",
            name="orders",
            project=project,
        )
        assert result.version.rows == int((frame["amount"] > 100).sum())
        assert "sql:" in result.version.source


def test_top_level_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    project = forgeml.init("api")
    try:
        monkeypatch.chdir(tmp_path / "api")
        version = forgeml.ingest(_frame(20), name="tiny").version
        assert forgeml.dataset("tiny").ref == version.ref == "tiny@1"
        assert forgeml.open_project().root == project.root
    finally:
        project.close()


def test_temp_files_left_by_a_killed_ingest_are_swept(sqlite_project: Project) -> None:
    old = sqlite_project.tmp_dir / "ingest-deadbeef.parquet"
    recent = sqlite_project.tmp_dir / "ingest-inflight.parquet"
    old.write_bytes(b"partial")
    recent.write_bytes(b"someone else's write in progress")
    os.utime(old, (time.time() - 7 * 3600,) * 2)
    Project.load(sqlite_project.root).close()  # every command opens its project this way
    assert not old.exists()
    assert recent.exists()


def test_nulls_hash_the_same_whatever_bytes_lie_under_them(
    sqlite_project: Project, tmp_path: Path
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,income\n1,52000\n2,\n3,61000\n")
    from_csv = ingest(path, name="t", project=sqlite_project).version
    frame = pd.read_csv(path, dtype={"income": "Int64"})
    from_frame = ingest(frame, name="t", project=sqlite_project)
    assert not from_frame.created and from_frame.version.version == from_csv.version


def test_duplicate_names_in_a_frame_are_a_clear_error(sqlite_project: Project) -> None:
    from forgeml.errors import SourceError

    with pytest.raises(SourceError, match="'a' at positions 1, 2"):
        ingest(pd.DataFrame([[1, 2]], columns=["a", "a"]), name="dup", project=sqlite_project)


def test_ingesting_a_csv_does_not_import_pandas(tmp_path: Path) -> None:
    """pandas costs a second or more to import; reading, hashing and profiling need none."""
    import subprocess
    import sys

    source = tmp_path / "mixed.csv"
    source.write_text(
        "id,amount,city,when,flag\n1,2.5,Oslo,2024-01-01 10:00:00,true\n"
        "2,,Rome,,false\n3,4.0,,2024-01-03 12:00:00,\n",
        encoding="utf-8",
    )
    code = (
        "import sys, forgeml\n"
        "project = forgeml.init(sys.argv[1])\n"
        "version = forgeml.ingest(sys.argv[2], name='mixed', project=project).version\n"
        "print(version.rows, 'pandas' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "p"), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "False"]
