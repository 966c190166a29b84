"""forgeml init, forgeml db ..."""

from __future__ import annotations

from pathlib import Path

import typer

from forgeml.cli.context import state
from forgeml.cli.output import console
from forgeml.project import Project
from forgeml.store import MetadataStore, migrate

db_app = typer.Typer(help="Inspect and upgrade the metadata store.", no_args_is_help=True)


def init(
    ctx: typer.Context,
    directory: Path | None = typer.Argument(
        None, help="Folder for the project (default: --project, or the current folder)."
    ),
    name: str | None = typer.Option(None, help="Project name (default: the folder name)."),
) -> None:
    """Create a project: forgeml.yaml with every section commented, the .forgeml/ store,
    and a .gitignore entry for it."""
    project = Project.init(directory or state(ctx).project_dir or Path("."), name=name)
    console.print(f"project [bold]{project.spec.project}[/] ready in {project.root}")
    console.print(f"  spec:      {project.root / 'forgeml.yaml'}")
    console.print(f"  metadata:  {project.store.display_url}")
    console.print(f"  artifacts: {project.artifacts.url}")
    console.print(f"  git:       {project.root / '.gitignore'} ignores .forgeml/")
    project.close()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Upgrade the metadata store's schema to this forgeml's newest revision."""
    with MetadataStore(state(ctx).project().settings.db_url, upgrade="none") as store:
        before, after = store.upgrade()
        if before == after:
            console.print(f"{store.display_url} is up to date (revision {after})")
        else:
            console.print(f"{store.display_url} upgraded: {before or 'empty'} → {after}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the store's location and schema revision."""
    with MetadataStore(state(ctx).project().settings.db_url, upgrade="none") as store:
        current = store.revision() or "none (empty store)"
        console.print(f"{store.display_url}: revision {current} (newest {migrate.head_revision()})")
