"""forgeml predict: score a Parquet or CSV file with a registered model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, errors, every, on_a_terminal
from forgeml.serve.inputs import OutOfRange

if TYPE_CHECKING:  # scoring loads the model libraries: import it when the command runs
    from forgeml.serve.batch import BatchResult, OnError

__all__ = ["predict_command"]

MAX_REASONS = 10
PLAIN_EVERY_S = 5.0  # off a terminal, a progress line at most this often
_CHOSEN = {
    "reference": "",
    "champion": " (the champion)",
    "newest": " (the newest version: no champion alias is set)",
}


def predict_command(
    ctx: typer.Context,
    model_ref: str = typer.Argument(
        ...,
        metavar="MODEL[@VERSION]",
        help="The model: NAME (its champion, else its newest version), NAME@N or NAME@ALIAS.",
    ),
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="The Parquet or CSV file (.csv.gz too) to score."
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Where to write the predictions: a .parquet or .csv file."
    ),
    rejects: Path | None = typer.Option(
        None,
        "--rejects",
        help="Where to write rejected rows with their reasons "
        "(default: OUTPUT's name + .rejects, same format).",
    ),
    chunk_rows: int = typer.Option(
        100_000, "--chunk-rows", min=1, help="Rows scored at a time; memory grows with it."
    ),
    out_of_range: OutOfRange = typer.Option(
        "flag",
        "--out-of-range",
        help="flag: score numbers far outside the training range and flag them; "
        "refuse: reject those rows.",
    ),
    on_error: str = typer.Option(
        "stop",
        "--on-error",
        help="stop: end at the first row that cannot be scored, naming its row and column, "
        "and write nothing; skip: score the other rows and list the bad ones in the rejects file.",
    ),
    backend: str = typer.Option(
        "local",
        "--backend",
        help="local, or ray: score the chunks with Ray Data (needs forgeml[ray]; "
        "a bad row stops it).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="The Ray cluster for --backend ray (e.g. auto)."
    ),
) -> None:
    """Score every row of a file; a bad row stops it, or is skipped with --on-error skip.

    Exits 0 when rows were scored (even with rows skipped) and 1 when a row stopped the run
    or every row was rejected.
    """
    from forgeml.serve.batch import predict_file

    if on_error not in ("stop", "skip"):
        raise typer.BadParameter(f"'{on_error}' is not stop or skip", param_hint="--on-error")
    mode: OnError = "stop" if on_error == "stop" else "skip"
    project = state(ctx).project()
    if backend not in ("local", "ray"):
        raise typer.BadParameter(f"'{backend}' is not local or ray", param_hint="--backend")
    if backend == "ray":
        from forgeml.serve.batch_ray import predict_file_ray

        if mode != "stop":
            raise typer.BadParameter("--backend ray stops at a bad row", param_hint="--on-error")
        done = predict_file_ray(
            model_ref,
            input_path,
            output,
            project=project,
            chunk_rows=chunk_rows,
            out_of_range=out_of_range,
            address=address,
        )
        _say(
            f"{done['rows']:,} rows scored with {done['model']} on Ray into {output} "
            f"in {done['seconds']:.1f} s"
        )
        return
    with _progress_bar() as progress:
        result = predict_file(
            model_ref,
            input_path,
            output,
            project=project,
            rejects=rejects,
            chunk_rows=chunk_rows,
            out_of_range=out_of_range,
            on_error=mode,
            progress=progress,
        )
    _summary(result)
    if result.rows and not result.scored:
        _say("[red]every row was rejected: nothing was scored[/]")
        raise typer.Exit(1)


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A progress callback for :func:`predict_file`: a bar on a terminal, else a plain line
    on stderr every few seconds (CI logs)."""
    if not on_a_terminal(console):
        from forgeml.report.text import duration

        started = time.monotonic()
        say = every(PLAIN_EVERY_S, lambda text: errors.print(text, markup=False, soft_wrap=True))

        def line(*, done: int, total: int, unit: str, rows: int, rejected: int) -> None:
            amount = f"{done:,}/{total:,} rows" if unit == "rows" else f"{_mb(done)}/{_mb(total)}"
            say(
                f"scoring: {amount}, {rows:,} rows read, {rejected:,} rejected · "
                f"{duration(time.monotonic() - started)} elapsed",
                last=done >= total,
            )

        yield line
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not on_a_terminal(console),
    )
    task = bar.add_task("scoring", total=None, amount="")

    def update(*, done: int, total: int, unit: str, rows: int, rejected: int) -> None:
        amount = f"{done:,}/{total:,} rows" if unit == "rows" else f"{_mb(done)}/{_mb(total)}"
        description = f"scoring: {rows:,} rows read, {rejected:,} rejected"
        bar.update(task, completed=done, total=total, amount=amount, description=description)

    with bar:
        yield update


def _summary(result: BatchResult) -> None:
    chosen = _CHOSEN.get(result.chosen_by, "")
    _say(
        f"[bold]{result.model}[/]{chosen}: scored {result.scored:,} of {_rows(result.rows)} "
        f"in {result.seconds:.1f} s → {escape(str(result.output))}"
    )
    if result.flagged:
        _say(f"{_rows(result.flagged)} flagged (see the 'flags' column)")
    if not result.rejected:
        _say(f"no rows rejected (empty rejects file: {escape(str(result.rejects))})")
        return
    shown = ", ".join(map(str, result.first_rejected))
    etc = ", ..." if result.rejected > len(result.first_rejected) else ""
    _say(
        f"[yellow]{_rows(result.rejected)} skipped[/] (rows {shown}{etc}) → "
        f"{escape(str(result.rejects))} (row number, column, reason, value)"
    )
    table = Table("column: reason", "rows", title="why rows were rejected", title_justify="left")
    for reason, count in list(result.reasons.items())[:MAX_REASONS]:
        add_row(table, reason, f"{count:,}")
    console.print(table)
    more = len(result.reasons) - MAX_REASONS
    if more > 0:
        _say(f"... and {more} more reasons in the rejects file")


def _say(text: str) -> None:
    """One summary line; long paths stay whole rather than wrapped."""
    console.print(text, soft_wrap=True)


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
