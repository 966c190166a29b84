"""forgeml ui."""

from __future__ import annotations

import typer

from forgeml.cli.context import state
from forgeml.cli.output import console

__all__ = ["ui_command"]


def ui_command(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (this machine only)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to bind."),
) -> None:
    """Browse the project in a web browser: runs, models, datasets and monitoring.

    Pages are served from this machine and load nothing from the internet. Set
    FORGEML_ADMIN_KEY to enable promote, rollback and rollouts from the model pages
    (each asks for the key and a confirmation, and is written to the audit trail).
    """
    from forgeml.ui.server import run_ui

    project = state(ctx).project()
    console.print(f"forgeml UI of {project.root} on http://{host}:{port}/ (Ctrl-C stops it)")
    run_ui(project, host=host, port=port)
