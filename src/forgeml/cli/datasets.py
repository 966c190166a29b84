"""forgeml ingest, forgeml validate, forgeml datasets ..."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, print_json, stages
from forgeml.data import dataset, ingest, list_datasets, validate_source, versions
from forgeml.data.ingest import default_name
from forgeml.data.sources import FileFormat
from forgeml.data.versions import DatasetVersion
from forgeml.errors import ValidationFailed

datasets_app = make_typer(help="List dataset versions and show their schema and profile.")

SOURCE_HELP = "A CSV, Parquet or JSON-lines file, or a SQLAlchemy database URL (with --query)."


def ingest_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help=SOURCE_HELP),
    name: str | None = typer.Option(
        None, "--name", "-n", help="Dataset name (default: file name)."
    ),
    query: str | None = typer.Option(None, "--query", "-q", help="SQL query for a database URL."),
    file_format: FileFormat | None = typer.Option(None, "--format", help="Override the format."),
    encoding: str = typer.Option("utf-8", help="Text encoding of a CSV file."),
) -> None:
    """Validate a source and store it as a new, immutable dataset version."""
    project = state(ctx).project()
    with stages(f"ingesting {source}") as progress:
        result = ingest(
            source,
            name=name,
            project=project,
            query=query,
            file_format=file_format,
            encoding=encoding,
            progress=progress,
        )
    v = result.version
    if result.separator not in (None, ","):
        console.print(f"columns separated by {_separator_name(result.separator)} (detected)")
    verb = "stored" if result.created else "already stored, unchanged"
    console.print(
        f"[bold]{v.ref}[/] {verb}: {v.rows:,} rows × {v.columns} columns "
        f"(content {v.content_hash[:12]})"
    )


def _separator_name(separator: str | None) -> str:
    return {"\t": "tabs", ";": "semicolons", "|": "'|'"}.get(str(separator), repr(separator))


def validate_command(
    ctx: typer.Context,
    source: str = typer.Argument(..., help=SOURCE_HELP),
    name: str | None = typer.Option(None, "--name", "-n", help="Dataset whose rules to apply."),
    query: str | None = typer.Option(None, "--query", "-q", help="SQL query for a database URL."),
    file_format: FileFormat | None = typer.Option(None, "--format", help="Override the format."),
    encoding: str = typer.Option("utf-8", help="Text encoding of a CSV file."),
) -> None:
    """Check a source against its dataset's rules without storing anything."""
    dataset_name = name or default_name(source)
    violations = validate_source(
        source,
        name=dataset_name,
        project=state(ctx).project(),
        query=query,
        file_format=file_format,
        encoding=encoding,
    )
    if violations:
        raise ValidationFailed(dataset_name, violations)
    console.print(f"{source} passes every rule for dataset '{dataset_name}'", markup=False)


@datasets_app.callback(invoke_without_command=True)
def datasets_list(ctx: typer.Context) -> None:
    """List datasets (or a dataset's versions with 'forgeml datasets show NAME')."""
    if ctx.invoked_subcommand is not None:
        return
    rows = list_datasets(project=state(ctx).project())
    if not rows:
        console.print("no datasets yet: run 'forgeml ingest FILE'")
        return
    table = Table("dataset", "versions", "latest", "updated")
    for r in rows:
        add_row(table, r.name, str(r.versions), f"@{r.latest}", f"{r.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


@datasets_app.command("show")
def datasets_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="NAME (latest version) or NAME@VERSION."),
    as_json: bool = typer.Option(False, "--json", help="Print schema and profile as JSON."),
    all_versions: bool = typer.Option(False, "--versions", help="List every version of NAME."),
) -> None:
    """Show a dataset version's schema and column profile."""
    project = state(ctx).project()
    if all_versions:
        table = Table("version", "rows", "columns", "content", "source", "created")
        for v in versions(ref.partition("@")[0], project=project):
            add_row(
                table,
                f"@{v.version}",
                f"{v.rows:,}",
                str(v.columns),
                v.content_hash[:12],
                v.source,
                f"{v.created_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)
        return
    version = dataset(ref, project=project)
    if as_json:
        print_json(
            {
                "ref": version.ref,
                "rows": version.rows,
                "content_hash": version.content_hash,
                "schema": version.schema,
                "profile": version.profile,
            }
        )
        return
    _print_version(version)


def _print_version(v: DatasetVersion) -> None:
    console.print(
        f"[bold]{v.ref}[/]  {v.rows:,} rows × {v.columns} columns  "
        f"content {v.content_hash[:12]}  from {v.source}  by {v.created_by}  "
        f"at {v.created_at:%Y-%m-%d %H:%M} UTC",
        soft_wrap=True,
    )
    table = Table("column", "kind", "nulls", "summary")
    for column in v.schema["columns"]:
        stats = v.profile["columns"][column["name"]]
        nulls = f"{stats['nulls'] / stats['count']:.1%}" if stats["count"] else "-"
        add_row(table, column["name"], column["kind"], nulls, _summary(stats))
    console.print(table)


def _summary(stats: dict[str, Any]) -> str:
    kind = stats["kind"]
    if kind in ("integer", "float") and "mean" in stats:
        q = stats["quantiles"]
        return (
            f"min {_g(stats['min'])}  median {_g(q['0.5'])}  max {_g(stats['max'])}  "
            f"mean {_g(stats['mean'])}  std {_g(stats['std'])}"
        )
    if kind in ("category", "text"):
        top = ", ".join(f"{value} ({count:,})" for value, count in stats["top"][:4])
        return f"{stats['unique']:,} distinct; top: {top}"
    if kind == "boolean":
        return f"true {stats['true']:,}  false {stats['false']:,}"
    if kind == "timestamp":
        return f"{stats['min']} → {stats['max']}"
    return ""


def _g(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"
