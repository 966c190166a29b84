"""Terminal output shared by the commands: one console, error rendering, tables, progress.

On a terminal, progress is a spinner or a bar that redraws itself; elsewhere (CI logs,
output piped to a file) it is one plain line per step on stderr, and nothing is wrapped
at 80 columns: the reader's tools wrap long lines, not forgeml.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from forgeml.errors import ForgemlError

if TYPE_CHECKING:
    from forgeml.data.validation import Violation

# Off a terminal, lines are this wide before anything wraps (a table's row, a long reason).
UNWRAPPED_WIDTH = 1000


class _Console(Console):
    """A console that wraps to the terminal's width, and not at all off a terminal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs.get("width") is None:
            # rich freezes $COLUMNS as the width when the console is made; a library that sets
            # it (readline does) would then wrap piped output. Read it when printing instead.
            self._width = None

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is not None or on_a_terminal(self):
            return size
        return ConsoleDimensions(max(size.width, UNWRAPPED_WIDTH), size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


def on_a_terminal(out: Console) -> bool:
    """Whether ``out`` writes to a terminal itself: live progress and wrapping are for people
    at one (FORCE_COLOR and the like say colours are welcome, not that a person watches)."""
    try:
        return bool(out.file.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


console = _Console(highlight=False)
errors = _Console(stderr=True, highlight=False)


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
def stages(title: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Show the stages a long job reports: a spinner on a terminal, else one line each.

    The lines go to stderr, so what a command prints on stdout stays clean for piping.
    """
    if quiet:
        yield lambda _stage: None
        return
    if not on_a_terminal(errors):
        yield lambda stage: errors.print(f"{title}: {stage}", markup=False, soft_wrap=True)
        return
    with errors.status(f"{title}…") as status:
        yield lambda stage: status.update(f"{title}: {stage}…")


def every(seconds: float, say: Callable[[str], None]) -> Callable[..., None]:
    """``say`` at most once per ``seconds`` (always the first time, and when ``last=True``)."""
    last_said = [-float("inf")]

    def maybe(text: str, *, last: bool = False) -> None:
        now = time.monotonic()
        if last or now - last_said[0] >= seconds:
            last_said[0] = now
            say(text)

    return maybe
