"""The example pipeline with built-in steps: ingest → validate → train → gate → register →
predict → a user step; and the built-in retrain pipeline, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow.csv as csv
import pytest
from typer.testing import CliRunner

from forgeml.cli import app
from forgeml.pipeline import PipelineRun, StepContext, StepFailed, run_pipeline
from forgeml.pipeline.builtins import BUILTINS
from forgeml.project import Project
from forgeml.registry.versions import model_version

ALL = ["ingest", "validate", "train", "gate", "register", "score", "summary"]


@pytest.fixture(scope="module")
def first(example: Project) -> PipelineRun:
    return run_pipeline("nightly", project=example)


def test_the_example_runs_every_step_then_reuses_every_result(
    example: Project, first: PipelineRun
) -> None:
    assert first.status == "succeeded", [s.error for s in first.steps]
    assert first.executed == ALL
    assert first.step("ingest").outputs["dataset"] == "credit@1"  # type: ignore[index]
    registered = first.step("register").outputs or {}
    champion = model_version("credit@champion", project=example)
    assert registered["model"] == champion.ref
    scored = first.step("score").outputs or {}
    assert scored["rows"] == 120 and (example.root / "out" / "scores.parquet").is_file()
    assert first.step("summary").outputs == {"rows": 120, "flagged": scored_flagged(example)}

    began = time.perf_counter()
    again = run_pipeline("nightly", project=example)
    assert again.executed == [] and again.cached == ALL
    assert time.perf_counter() - began < 30  # generous for a loaded machine; the benchmark times it


HEAVY = ("sqlalchemy", "pandas", "pyarrow", "numpy", "sklearn", "lightgbm", "xgboost", "torch")
RERUN = """
import json, sys
from forgeml.cli import main
sys.argv = ["forgeml", "--project", sys.argv[1], "pipeline", "run", "nightly"]
code = 0
try:
    main()
except SystemExit as done:
    code = done.code
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))
print(json.dumps({"exit": code, "loaded": loaded}), file=sys.stderr)
"""


def test_a_rerun_that_reuses_every_step_loads_no_data_model_or_sql_library(
    example: Project, first: PipelineRun
) -> None:
    assert first.status == "succeeded"
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{RERUN}", str(example.root)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "7 reused from the cache" in done.stdout and "0 steps ran" in done.stdout, done.stdout
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report == {"exit": 0, "loaded": []}, done.stderr[-2000:]


def test_new_rows_to_score_rerun_only_the_steps_after_them(
    example: Project, first: PipelineRun
) -> None:
    new = example.root / "data" / "new.csv"
    table = csv.read_csv(new)
    csv.write_csv(table.slice(0, 100), new)
    changed = run_pipeline("nightly", project=example)
    assert changed.executed == ["score", "summary"]
    assert (changed.step("score").outputs or {})["rows"] == 100

    (example.root / "out" / "scores.parquet").write_bytes(b"changed by hand")
    repaired = run_pipeline("nightly", project=example)
    assert repaired.executed == ["score"]  # rewritten; the same bytes, so summary is reused
    assert repaired.cached == [s for s in ALL if s != "score"]


def test_a_failing_gate_fails_its_step_with_the_failed_checks(example: Project) -> None:
    gate = {"passed": False, "checks": [{"name": "roc_auc >= 0.99", "passed": False}]}
    ctx = StepContext(example, "p", "gate", {}, {"train": {"run_id": "abc", "gate": gate}})
    with pytest.raises(StepFailed, match=r"run abc failed its gate: roc_auc >= 0.99"):
        BUILTINS["gate"].run(ctx)


def test_retrain_is_built_in_and_runs_from_the_command_line(
    example: Project, first: PipelineRun
) -> None:
    cli = CliRunner()
    args = ["--project", str(example.root), "pipeline", "run", "retrain"]
    done = cli.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "3 steps ran, 0 reused" in done.output
    assert model_version("credit@champion", project=example).version == 2
    again = cli.invoke(app, args)
    assert "0 steps ran, 3 reused from the cache" in again.output


def scored_flagged(project: Project) -> int:
    import pyarrow.parquet as pq

    scores = pq.read_table(project.root / "out" / "scores.parquet").column("score").to_pylist()
    return sum(1 for s in scores if s >= 0.5)
