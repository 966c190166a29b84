"""The commands of ``forgeml``, each imported only when it runs (or shows its own help).

``forgeml --help`` lists the commands from :data:`COMMANDS` alone, so it loads none of the
libraries the commands use. A test checks that each listed summary is the first line of the
command's own help.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

import typer
import typer.main
from typer.core import TyperGroup

if TYPE_CHECKING:  # the click that typer runs on (its own copy in recent typer releases)
    from typer._click import Command, Context, HelpFormatter

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "make_typer"]


def make_typer(**settings: Any) -> typer.Typer:
    """A Typer app with forgeml's settings: plain help text (the fast, dependency-free one)."""
    return typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False, **settings)


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``, a function or a Typer app) and its summary."""

    target: str
    summary: str

    def load(self, name: str) -> Command:
        module, attribute = self.target.split(":")
        found = getattr(import_module(module), attribute)
        if isinstance(found, typer.Typer):
            command = typer.main.get_command(found)
        else:
            single = make_typer()
            single.command(name)(found)
            command = typer.main.get_command(single)
        command.name = name
        return command


COMMANDS: dict[str, LazyCommand] = {
    "init": LazyCommand(
        "forgeml.cli.project:init",
        (
            "Create a project: forgeml.yaml with every section commented, the .forgeml/ store, "
            "and a .gitignore entry for it."
        ),
    ),
    "ingest": LazyCommand(
        "forgeml.cli.datasets:ingest_command",
        "Validate a source and store it as a new, immutable dataset version.",
    ),
    "validate": LazyCommand(
        "forgeml.cli.datasets:validate_command",
        "Check a source against its dataset's rules without storing anything.",
    ),
    "train": LazyCommand(
        "forgeml.cli.train:train_command",
        "Train candidates, evaluate and gate the best; register and promote it if it passes.",
    ),
    "gate": LazyCommand(
        "forgeml.cli.train:gate_command",
        "Check a model version against the gate in forgeml.yaml; exit 1 when it fails (for CI).",
    ),
    "report": LazyCommand(
        "forgeml.cli.train:report_command",
        "Write a model version's card: one HTML file that opens offline.",
    ),
    "models": LazyCommand(
        "forgeml.cli.registry:models_command",
        "List registered models, or the versions of one model with metrics and aliases.",
    ),
    "scan": LazyCommand(
        "forgeml.cli.artifacts:scan_command",
        "List every stored model part with its format; exit 1 when one would need pickle.",
    ),
    "register": LazyCommand(
        "forgeml.cli.registry:register_command",
        "Register the model a run produced as a new model version.",
    ),
    "promote": LazyCommand(
        "forgeml.cli.registry:promote_command",
        "Point an alias at a model version; the move is recorded with who, when and why.",
    ),
    "rollback": LazyCommand(
        "forgeml.cli.registry:rollback_command",
        "Move an alias back to the version that held it before.",
    ),
    "history": LazyCommand(
        "forgeml.cli.registry:history_command",
        "Show who moved a model's aliases and who trusted its code, newest first.",
    ),
    "serve": LazyCommand(
        "forgeml.cli.serve:serve_command",
        "Serve a model over HTTP: POST /predict, POST /feedback, GET /metrics, GET /docs.",
    ),
    "predict": LazyCommand(
        "forgeml.cli.predict:predict_command",
        "Score every row of a file; a bad row stops it, or is skipped with --on-error skip.",
    ),
    "monitor": LazyCommand(
        "forgeml.cli.monitor:monitor_command",
        "Drift, data quality and performance of a served model, window by window.",
    ),
    "alerts": LazyCommand(
        "forgeml.cli.monitor:alerts_command",
        "List stored alerts, oldest first: when, model, kind, severity, message, delivery.",
    ),
    "retrain": LazyCommand(
        "forgeml.cli.loop:retrain_command",
        "Run one retraining cycle by hand: data, challenger, champion vs challenger, rollout.",
    ),
    "loop": LazyCommand(
        "forgeml.cli.loop:loop_command",
        "Apply the project's policy as a daemon: monitor, retrain, settle rollouts, promote.",
    ),
    "cycles": LazyCommand(
        "forgeml.cli.loop:cycles_command",
        "The model's retraining cycles, newest first, with what each decided and why.",
    ),
    "demo": LazyCommand(
        "forgeml.cli.demo:demo",
        "Run the demo scenario end to end in a fresh project (refuses a folder in use).",
    ),
    "space": LazyCommand(
        "forgeml.cli.space:space_command",
        "Show the space datasets, models, logs and temporary files take; free what is left over.",
    ),
    "datasets": LazyCommand(
        "forgeml.cli.datasets:datasets_app",
        "List dataset versions and show their schema and profile.",
    ),
    "runs": LazyCommand(
        "forgeml.cli.runs:runs_app",
        "List tracked runs, show one, or compare several side by side.",
    ),
    "features": LazyCommand(
        "forgeml.cli.features:features_app",
        "Feature store: list definitions, build point-in-time training sets, materialize.",
    ),
    "export": LazyCommand(
        "forgeml.cli.deploy:export_command",
        "Export a model version: a model directory, an MLflow model, a cloud bundle, or ONNX.",
    ),
    "import": LazyCommand(
        "forgeml.cli.deploy:import_app",
        "Register a model saved by another tool: an MLflow model folder.",
    ),
    "build": LazyCommand(
        "forgeml.cli.deploy:build_app",
        "Build a deployable artifact: a Docker build context.",
    ),
    "k8s": LazyCommand(
        "forgeml.cli.deploy:k8s_command",
        "Write Kubernetes manifests (Deployment, Service, HPA, PDB) or a KServe service.",
    ),
    "ui": LazyCommand(
        "forgeml.cli.ui:ui_command",
        "Browse the project in a web browser: runs, models, datasets and monitoring.",
    ),
    "db": LazyCommand("forgeml.cli.project:db_app", "Inspect and upgrade the metadata store."),
    "pipeline": LazyCommand(
        "forgeml.cli.pipeline:pipeline_app",
        "Run pipelines with cached steps, list their runs, or compile them for an orchestrator.",
    ),
    "rollout": LazyCommand(
        "forgeml.cli.serve:rollout_app",
        "Shadow or canary a challenger version beside the champion.",
    ),
}


class LazyGroup(TyperGroup):
    """The root command: its own commands plus :data:`COMMANDS`, loaded on first use."""

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = COMMANDS[cmd_name].load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = [(n, c.get_short_help_str(limit=formatter.width)) for n, c in self.commands.items()]
        rows += [(n, lazy.summary) for n, lazy in COMMANDS.items() if n not in self.commands]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
