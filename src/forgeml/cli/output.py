"""Terminal output shared by the commands: one console, error rendering, tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from forgeml.errors import ForgemlError

if TYPE_CHECKING:
    from forgeml.data.validation import Violation

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def print_error(error: ForgemlError) -> None:
    errors.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    violations = getattr(error, "violations", None)
    if violations:
        errors.print(violation_table(violations))
    if error.fix:
        errors.print(f"[bold]fix:[/] {escape(error.fix)}", soft_wrap=True)


def violation_table(violations: list[Violation]) -> Table:
    table = Table(title="validation failures", title_justify="left")
    for header in ("column", "rule", "rows", "examples"):
        table.add_column(header, justify="right" if header == "rows" else "left")
    for v in violations:
        add_row(table, v.column, v.rule, f"{v.count:,}", ", ".join(v.examples))
    return table


def add_row(table: Table, *values: str) -> None:
    """Add a row of plain text: data values are never read as rich markup."""
    table.add_row(*(Text(value) for value in values))


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


@contextmanager
def stages(title: str, quiet: bool = False) -> Iterator[Any]:
    """A spinner whose text follows the stage names a long job reports."""
    if quiet or not console.is_terminal:
        yield lambda _stage: None
        return
    with console.status(f"{title}…") as status:
        yield lambda stage: status.update(f"{title}: {stage}…")
