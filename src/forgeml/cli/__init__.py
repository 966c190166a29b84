"""The ``forgeml`` command line. Commands only parse arguments and print results.

Each command's module is imported when the command runs (see :mod:`forgeml.cli.commands`),
so ``forgeml --help`` and ``forgeml --version`` start without loading any data library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from forgeml import __version__
from forgeml.cli.commands import LazyGroup, make_typer
from forgeml.cli.context import state
from forgeml.errors import ForgemlError

__all__ = ["app", "main"]

app = make_typer(
    name="forgeml",
    cls=LazyGroup,
    help="forgeml: versioned data, gated models, fast serving, monitoring and retraining.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(show: bool) -> None:
    if show:
        typer.echo(__version__)
        raise typer.Exit()


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
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print forgeml's version and exit.",
    ),
) -> None:
    state(ctx).project_dir = project
    ctx.call_on_close(state(ctx).close)


@app.command("version")
def _version() -> None:
    """Print forgeml's version."""
    typer.echo(__version__)


def main() -> None:
    try:
        code = app(standalone_mode=False)  # typer returns, rather than raises, an Exit's code
        if isinstance(code, int) and code:
            sys.exit(code)
    except ForgemlError as error:
        from forgeml.cli.output import print_error

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
