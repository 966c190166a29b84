"""forgeml predict on rows a model cannot score: stop naming the row, or skip and list it."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from forgeml.errors import DataError
from forgeml.project import Project
from forgeml.serve.batch import predict_file
from forgeml.serve.batch_check import INFINITE_PROBLEM
from forgeml.serve.inputs import TIMESTAMP_RANGE_PROBLEM
from serve.serving import register

BIGGEST = 1.7976931348623157e308


def _file(tmp_path: Path) -> Path:
    good = {"income": 52000.0, "age": 41, "plan": "pro", "paperless": True}
    rows = [
        good,
        {**good, "income": BIGGEST, "age": BIGGEST},  # the linear sum overflows
        good,
        {**good, "income": math.inf},
        {**good, "income": -BIGGEST, "age": -BIGGEST},
    ]
    table = pa.table(
        {
            "id": [f"c{i}" for i in range(len(rows))],
            **{name: [r[name] for r in rows] for name in ("income", "age", "plan", "paperless")},
            "age": pa.array([float(r["age"]) for r in rows]),
            "opened": pa.array([datetime(2025, 2, 1)] * len(rows), pa.timestamp("us")),
        }
    )
    path = tmp_path / "edges.parquet"
    pq.write_table(table, path)
    return path


@pytest.fixture
def regression(sqlite_project: Project) -> Project:
    register(sqlite_project, flavor="sklearn", task="regression")
    return sqlite_project


def test_a_row_the_model_cannot_score_stops_the_run_by_default(
    regression: Project, tmp_path: Path
) -> None:
    output = tmp_path / "out.parquet"
    with pytest.raises(DataError) as caught:
        predict_file("credit", _file(tmp_path), output, project=regression)
    message = str(caught.value)
    assert "row 1 of" in message and "column 'age'" in message
    assert "non-finite" in message and "on_error='skip'" in message
    assert not output.exists() and not (tmp_path / "out.rejects.parquet").exists()


def test_skip_scores_the_good_rows_and_lists_the_others(
    regression: Project, tmp_path: Path
) -> None:
    result = predict_file(
        "credit", _file(tmp_path), tmp_path / "out.parquet", project=regression, on_error="skip"
    )
    assert (result.rows, result.scored, result.rejected) == (5, 2, 3)
    assert result.first_rejected == [1, 3, 4]
    out = pq.read_table(result.output)
    assert out.column("id").to_pylist() == ["c0", "c2"]
    assert all(math.isfinite(v) for v in out.column("prediction").to_pylist())
    rejects = pq.read_table(result.rejects).to_pylist()
    assert [(r["row"], r["column"]) for r in rejects] == [(1, "age"), (3, "income"), (4, "age")]
    assert rejects[1]["reason"] == INFINITE_PROBLEM
    assert "non-finite" in rejects[0]["reason"] and "non-finite" in rejects[2]["reason"]


def test_timestamps_beyond_the_calendar_are_refused_as_the_server_does(
    sqlite_project: Project, tmp_path: Path
) -> None:
    register(sqlite_project)
    source = tmp_path / "stamps.csv"
    source.write_text(
        "income,age,plan,paperless,opened\n"
        "52000,41,pro,true,0001-01-01T00:00:00+01:00\n"
        "52000,41,pro,true,2025-01-01\n"
        "52000,41,pro,true,9999-12-31T23:59:59-01:00\n"
    )
    result = predict_file(
        "credit", source, tmp_path / "out.csv", project=sqlite_project, on_error="skip"
    )
    assert (result.scored, result.rejected) == (1, 2)
    assert result.reasons == {"opened: " + TIMESTAMP_RANGE_PROBLEM: 2}
