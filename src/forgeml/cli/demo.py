"""forgeml demo"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from forgeml.cli.output import console, violation_table
from forgeml.cli.train import print_decision, print_gate
from forgeml.errors import ValidationFailed

if TYPE_CHECKING:  # the scenario trains models: import it when the command runs
    from forgeml.training.trainer import TrainResult


class _Console:
    def __init__(self) -> None:
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        console.print(f"\n[bold cyan]{self.number}. {title}[/]")

    def say(self, text: str) -> None:
        console.print(f"   {text}", markup=False)

    def rejected(self, error: ValidationFailed) -> None:
        console.print(f"   [red]refused:[/] {error.message}")
        console.print(violation_table(error.violations))

    def trained(self, result: TrainResult) -> None:
        console.print(f"   best of {len(result.trials)} trials: {result.candidate}", markup=False)
        print_decision(result.context)
        table = Table("metric", "test", "validation")
        for name in ("roc_auc", "pr_auc", "log_loss", "ece", "f1", "expected_cost"):
            if name in result.test:
                table.add_row(name, f"{result.test[name]:.4f}", f"{result.valid[name]:.4f}")
        console.print(table)
        print_gate(result.gate)
        if result.model is not None:
            console.print(
                f"   registered {result.model.ref} and promoted it to champion", markup=False
            )

    def shift(self, rows: list[tuple[str, str, str]]) -> None:
        table = Table("", "months 1-6", "months 7-12")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def demo(
    directory: Path = typer.Option(
        Path("demo-project"), "--dir", help="Folder for the demo project."
    ),
    rows_per_month: int = typer.Option(2000, min=100, help="Applications generated per month."),
    force: bool = typer.Option(
        False, "--force", help="Remove an earlier demo in --dir and start afresh."
    ),
) -> None:
    """Run the demo scenario end to end in a fresh project (refuses a folder in use)."""
    from forgeml.demo.folder import fresh_folder

    started = time.perf_counter()
    fresh_folder(directory, force=force)  # before the scenario's libraries load: refuse fast
    from forgeml.demo.scenario import run_demo

    result = run_demo(directory, _Console(), rows_per_month=rows_per_month, force=force)
    gain = result.loop.gain if result.loop is not None else None
    if gain is not None:
        change = f"{abs(gain):.0%} {'lower' if gain >= 0 else 'higher'}"
        console.print(
            f"\n[bold]retraining paid off: log loss {change} than the first champion's[/]"
            if gain > 0
            else f"\n[bold]retraining did not pay off this time: log loss {change}[/]"
        )
    console.print(
        f"\n[bold green]done[/] in {time.perf_counter() - started:.1f}s: "
        f"{len(result.versions)} dataset versions stored, a corrupted batch refused on "
        f"{len(result.rejected)} rules, champion {result.champion or 'none'}, no rollout "
        f"left open. Inspect with: forgeml --project {result.project} models credit",
        soft_wrap=True,
    )
    console.print(
        f"Browse it in a web browser: forgeml --project {result.project} ui, "
        "then open http://127.0.0.1:8080/",
        soft_wrap=True,
        markup=False,
    )
