"""forgeml space: what the project takes on disk, and freeing what killed processes left."""

from __future__ import annotations

import typer
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, print_json


def space_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Show the space datasets, models, logs and temporary files take; free what is left over."""
    from forgeml.space import space

    measured = space(project=state(ctx).project())
    if as_json:
        print_json(
            {
                "parts": {p.name: {"files": p.files, "bytes": p.bytes} for p in measured.parts},
                "total_bytes": measured.total_bytes,
                "freed": {"files": measured.freed.files, "bytes": measured.freed.bytes},
            }
        )
        return
    table = Table(title="space used", title_justify="left")
    for header in ("part", "files", "size"):
        table.add_column(header, justify="left" if header == "part" else "right")
    for part in measured.parts:
        add_row(table, part.name, f"{part.files:,}", human_bytes(part.bytes))
    add_row(table, "total", "", human_bytes(measured.total_bytes))
    console.print(table)
    freed = measured.freed
    if freed.files:
        console.print(
            f"freed {human_bytes(freed.bytes)}: {freed.files} temporary file(s) "
            "left by processes that were killed"
        )
    else:
        console.print("nothing to free: no temporary file was left by a killed process")


def human_bytes(size: int) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> human_bytes(0), human_bytes(1536), human_bytes(3 * 1024**3)
    ('0 B', '1.5 KiB', '3.0 GiB')
    """
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # unreachable; keeps type checkers content
