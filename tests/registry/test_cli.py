"""The registry commands: models, register, promote, rollback, history."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from forgeml.cli import output
from forgeml.cli.context import State
from forgeml.cli.registry import (
    history_command,
    models_command,
    promote_command,
    register_command,
    rollback_command,
)
from forgeml.errors import NotFound
from forgeml.project import Project
from forgeml.registry import ModelBundle, history, model_version, save_bundle


@pytest.fixture
def cli(project: Project, monkeypatch: pytest.MonkeyPatch) -> Any:
    # Tables wrap at the console's width, which the test runner may have fixed at import.
    monkeypatch.setattr(output.console, "_width", 200)
    app = typer.Typer()
    app.command("models")(models_command)
    app.command("register")(register_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
    app.command("history")(history_command)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        state = State(project_dir=project.root)
        try:
            return runner.invoke(app, list(args), obj=state)
        finally:
            state.close()

    return invoke


@pytest.fixture
def run_id(project: Project, sklearn_bundle: ModelBundle, record_run: Any) -> str:
    rid: str = record_run(
        {
            "model/bundle": save_bundle(sklearn_bundle, project.artifacts),
            "model/signature.json": {"inputs": ["a", "b", "c", "d"]},
            "model/metrics.json": {
                "test": {"auc": 0.8123, "brier": 0.15, "logloss": 0.45},
                "valid": {"auc": 0.8, "logloss": 0.5},
            },
            "model/lineage.json": {"dataset": "credit@1"},
        }
    )
    return rid


def test_register_list_promote_rollback_and_history(cli: Any, run_id: str) -> None:
    assert "no models yet" in cli("models").stdout

    first = cli("register", run_id)
    assert first.exit_code == 0, first.output
    assert f"credit@1 registered from run {run_id} (sklearn, bundle " in first.stdout
    assert cli("register", run_id, "--name", "credit").exit_code == 0

    promoted = cli("promote", "credit@1", "--reason", "first model")
    assert "credit@1 is now 'champion' (new alias)" in promoted.stdout
    again = cli("promote", "credit@1", "--reason", "retry")
    assert "credit@1 already holds 'champion': nothing changed" in again.stdout
    moved = cli("promote", "credit@2", "-r", "newer data", "--actor", "ci@build")
    assert "credit@2 is now 'champion' (was @1)" in moved.stdout

    listing = cli("models").stdout
    assert "credit" in listing and "champion @2" in listing
    detail = cli("models", "credit").stdout
    assert "test/auc 0.8123  test/brier 0.15  test/logloss 0.45  valid/auc 0.8  (+1)" in detail
    assert "champion" in detail and run_id[:12] in detail

    back = cli("rollback", "credit", "--reason", "latency regression")
    assert back.exit_code == 0 and "'champion' of credit rolled back: @2 → @1" in back.stdout

    trail = cli("history", "credit").stdout
    lines = [line for line in trail.splitlines() if "champion" in line]
    assert len(lines) == 3
    assert "rolled back to the previous version" in lines[0]
    assert "@2 → @1" in lines[0] and "latency regression" in lines[0]
    assert "promoted" in lines[1]
    assert "ci@build" in lines[1] and "@1 → @2" in lines[1]
    assert "- → @1" in lines[2]


def test_commands_fail_clearly(cli: Any, project: Project, run_id: str) -> None:
    cli("register", run_id)
    no_reason = cli("promote", "credit@1")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    unknown = cli("promote", "credit@7", "--reason", "x")
    assert isinstance(unknown.exception, NotFound) and "has no version 7" in str(unknown.exception)
    nothing = cli("rollback", "credit")
    assert isinstance(nothing.exception, NotFound)
    assert "no aliases yet" in str(nothing.exception)
    assert "no alias moves yet for credit" in cli("history", "credit").stdout
    assert history("credit", project=project) == []
    assert model_version("credit", project=project).aliases == []


def test_a_threshold_near_one_is_listed_with_enough_digits() -> None:
    from forgeml.cli.registry import _metrics

    listed = _metrics({"test": {"threshold": 0.99996, "roc_auc": 0.81234}})
    assert listed == "test/threshold 0.99996  test/roc_auc 0.8123"
