"""The ``forgeml`` command line. Commands only parse arguments and print results."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from forgeml import __version__
from forgeml.cli.context import state
from forgeml.cli.datasets import datasets_app, ingest_command, validate_command
from forgeml.cli.demo import demo
from forgeml.cli.loop import cycles_command, loop_command, retrain_command
from forgeml.cli.monitor import alerts_command, monitor_command
from forgeml.cli.output import print_error
from forgeml.cli.predict import predict_command
from forgeml.cli.project import db_app, init
from forgeml.cli.registry import (
    history_command,
    models_command,
    promote_command,
    register_command,
    rollback_command,
)
from forgeml.cli.runs import runs_app
from forgeml.cli.serve import rollout_app, serve_command
from forgeml.cli.space import space_command
from forgeml.cli.train import gate_command, report_command, train_command
from forgeml.errors import ForgemlError

__all__ = ["app", "main"]

app = typer.Typer(
    name="forgeml",
    help="forgeml: versioned data, gated models, fast serving, monitoring and retraining.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    project: Path | None = typer.Option(
        None,
        "--project",
        "-p",
        envvar="FORGEML_PROJECT",
        help="Project folder (default: search upward from the current folder).",
    ),
) -> None:
    state(ctx).project_dir = project
    ctx.call_on_close(state(ctx).close)


@app.command("version")
def _version() -> None:
    """Print forgeml's version."""
    typer.echo(__version__)


app.command("init")(init)
app.command("ingest")(ingest_command)
app.command("validate")(validate_command)
app.command("train")(train_command)
app.command("gate")(gate_command)
app.command("report")(report_command)
app.command("models")(models_command)
app.command("register")(register_command)
app.command("promote")(promote_command)
app.command("rollback")(rollback_command)
app.command("history")(history_command)
app.command("serve")(serve_command)
app.command("predict")(predict_command)
app.command("monitor")(monitor_command)
app.command("alerts")(alerts_command)
app.command("retrain")(retrain_command)
app.command("loop")(loop_command)
app.command("cycles")(cycles_command)
app.command("demo")(demo)
app.command("space")(space_command)
app.add_typer(datasets_app, name="datasets")
app.add_typer(runs_app, name="runs")
app.add_typer(db_app, name="db")
app.add_typer(rollout_app, name="rollout")


def main() -> None:
    try:
        code = app(standalone_mode=False)  # typer returns, rather than raises, an Exit's code
        if isinstance(code, int) and code:
            sys.exit(code)
    except ForgemlError as error:
        print_error(error)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    except (typer.Exit, SystemExit) as done:
        sys.exit(getattr(done, "exit_code", None) or getattr(done, "code", 0) or 0)
    except Exception as error:
        # Usage errors (a missing option, a bad value) come from typer's copy of click or
        # from click itself, depending on the typer version: both can show themselves.
        show, code = getattr(error, "show", None), getattr(error, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
