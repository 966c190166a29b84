"""forgeml runs, runs show and runs compare print what the store holds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

from forgeml.cli import output
from forgeml.cli.context import State
from forgeml.cli.runs import runs_app
from forgeml.data import ingest
from forgeml.errors import NotFound
from forgeml.project import Project
from forgeml.training.tracking import RunInfo, get_run, start_run


@dataclass
class Runs:
    project: Project
    first: RunInfo
    second: RunInfo
    crashed: RunInfo

    def cli(self, *args: str) -> Result:
        state = State(project_dir=self.project.root)
        try:
            return CliRunner().invoke(runs_app, list(args), obj=state)
        finally:
            state.close()


@pytest.fixture
def runs(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> Runs:
    monkeypatch.setattr(output.console, "_width", 200)
    data = ingest(pa.table({"x": [1, 2, 3]}), name="credit", project=sqlite_project).version
    found = []
    for lr, auc in ((0.1, 0.91), (0.05, 0.93)):
        with start_run(
            experiment="credit",
            project=sqlite_project,
            dataset=data,
            params={"lr": lr, "depth": 6},
        ) as run:
            for step, loss in enumerate((0.6, 0.4, 0.3)):
                run.log_metrics({"loss": loss, "auc": auc - 0.1 + step * 0.05}, step=step)
            run.log_artifact("model.txt", f"model lr={lr}".encode())
        found.append(get_run(run.id, project=sqlite_project))
    crashed = start_run(experiment="churn", project=sqlite_project, kind="evaluate")
    crashed.log_metric("auc", float("nan"))
    return Runs(sqlite_project, found[0], found[1], crashed.fail("ValueError: no rows left"))


def test_runs_lists_the_newest_first_with_their_main_figures(runs: Runs) -> None:
    result = runs.cli()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    order = [
        next(i for i, s in enumerate(lines) if r.id[:8] in s)
        for r in (runs.crashed, runs.second, runs.first)
    ]
    assert order == sorted(order)
    first, continued = lines[order[2]], lines[order[2] + 1]  # one metric per line
    for cell in ("credit", "train", "finished", "credit@1", "auc=0.91"):
        assert cell in first
    assert "loss=0.3" in continued and runs.first.id[:8] not in continued
    crashed = lines[order[0]]
    assert "churn" in crashed and "evaluate" in crashed and "failed" in crashed
    assert "auc=null" in crashed


def test_runs_filters_by_experiment_status_and_count(runs: Runs) -> None:
    only_churn = runs.cli("--experiment", "churn").output
    assert runs.crashed.id[:8] in only_churn and runs.first.id[:8] not in only_churn
    failed = runs.cli("--status", "failed").output
    assert runs.crashed.id[:8] in failed and runs.second.id[:8] not in failed
    latest = runs.cli("--limit", "1").output
    assert runs.crashed.id[:8] in latest and runs.second.id[:8] not in latest
    assert runs.cli("-e", "nothing").output.strip() == "no runs match"


def test_show_prints_params_metrics_artifacts_and_lineage(runs: Runs) -> None:
    result = runs.cli("show", runs.first.id[:8])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"run {runs.first.id}" in out and "finished" in out
    assert "credit@1" in out and "numpy" in out and "python" in out
    for row in (("lr", "0.1"), ("depth", "6"), ("auc", "0.91"), ("loss", "0.3")):
        assert any(row[0] in line and row[1] in line for line in out.splitlines()), row
    assert "model.txt" in out and runs.first.artifacts["model.txt"] in out
    crashed = runs.cli("show", runs.crashed.id).output
    assert "failed" in crashed and "ValueError: no rows left" in crashed


def test_show_json_is_the_whole_record(runs: Runs) -> None:
    result = runs.cli("show", runs.second.id, "--json")
    record = json.loads(result.output)
    assert record["id"] == runs.second.id and record["status"] == "finished"
    assert record["params"] == {"lr": 0.05, "depth": 6}
    assert record["metrics"] == {"auc": pytest.approx(0.93), "loss": 0.3}
    assert record["artifacts"] == runs.second.artifacts and record["dataset"] == "credit@1"
    assert record["packages"]["forgeml"] and record["started_at"].startswith("20")
    assert record["duration_s"] == pytest.approx(runs.second.duration_s)


def test_compare_puts_runs_side_by_side_and_marks_differing_params(runs: Runs) -> None:
    result = runs.cli("compare", runs.first.id[:8], runs.second.id[:8], runs.crashed.id)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if runs.first.id[:8] in line)
    assert runs.second.id[:8] in header and runs.crashed.id[:8] in header
    lr = next(line for line in lines if " lr " in line)
    assert "lr ≠" in lr and "0.1" in lr and "0.05" in lr
    depth = next(line for line in lines if " depth " in line)
    assert "≠" in depth  # the crashed run has no depth: "-"
    two = runs.cli("compare", runs.first.id, runs.second.id).output.splitlines()
    assert "≠" not in next(line for line in two if " depth " in line)
    auc = next(line for line in two if " auc " in line)
    assert "0.91" in auc and "0.93" in auc


def test_bad_arguments_are_refused(runs: Runs) -> None:
    one = runs.cli("compare", runs.first.id)
    assert one.exit_code == 2 and "at least two run ids" in one.output
    unknown = runs.cli("show", "0123456789")
    assert isinstance(unknown.exception, NotFound)
    assert "no run with id '0123456789'" in str(unknown.exception)


def test_a_narrow_terminal_lists_the_best_search_score_without_breaking_cells(
    runs: Runs, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_run(
        experiment="credit-default-model", project=runs.project, tags={"metric": "roc_auc"}
    ) as run:
        for step, (trial, best) in enumerate(
            ((0.7012, 0.7012), (0.7431, 0.7431), (0.7207, 0.7431))
        ):
            run.log_metrics({"search/score": trial, "search/best": best}, step=step)
        run.log_metrics({f"test/{k}": 0.5 for k in ("accuracy", "brier", "ece", "log_loss")})
        run.log_metric("test/roc_auc", 0.7321)
    monkeypatch.setattr(output.console, "_width", 80)
    result = runs.cli()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    row = next(i for i, line in enumerate(lines) if run.id[:8] in line)
    for cell in ("credit-default-model", "finished", "test/roc_auc=0.7321"):
        assert cell in lines[row]  # whole, not folded over two lines
    assert "search/best=0.7431" in lines[row + 1]
    assert "search/score" not in result.output  # the last trial's score is not the best
    assert "credit@1" not in result.output  # the dataset column waits for --wide
    wide = runs.cli("--wide").output
    assert "credit@1" in wide and "evaluate" in wide
