"""forgeml train, forgeml gate"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, stages

if TYPE_CHECKING:  # training modules load scikit-learn: import them when a command runs
    from forgeml.training.gates import GateResult

MAIN = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "accuracy",
    "f1",
    "expected_cost",
    "rmse",
    "mae",
    "r2",
    "mape",
)


def train_command(
    ctx: typer.Context,
    dataset_ref: str | None = typer.Option(
        None, "--dataset", "-d", help="NAME or NAME@VERSION (default: train.dataset)."
    ),
    target: str | None = typer.Option(None, "--target", "-t", help="Target column."),
    exclude: list[str] = typer.Option(
        [], "--exclude", "-x", help="Column to leave out (repeatable)."
    ),
    trials: int | None = typer.Option(None, "--trials", min=1, help="Search trial budget."),
    budget: str | None = typer.Option(None, "--budget", help="Search time budget, e.g. 5m."),
    register: bool = typer.Option(
        True,
        "--register/--no-register",
        help="Register and promote the model when it passes the gate.",
    ),
) -> None:
    """Train candidates, evaluate and gate the best; register and promote it if it passes."""
    from forgeml.training.trainer import train

    project = state(ctx).project()
    with stages("training") as progress:
        result = train(
            dataset_ref=dataset_ref,
            project=project,
            target=target,
            trials=trials,
            time_budget=budget,
            exclude=exclude,
            register=register,
            progress=progress,
        )
    for warning in result.warnings:
        console.print(f"[yellow]{escape(warning)}[/]")
    trials_done = len(result.trials)
    console.print(
        f"best of {trials_done} trials: [bold]{result.candidate}[/] "
        f"{_params(result.params)}  (run {result.run_id[:8]})"
    )
    table = Table("metric", "test", "validation", "champion")
    for name in MAIN:
        if name in result.test:
            champion = result.champion.get(name) if result.champion else None
            add_row(
                table, name, _fmt(result.test[name]), _fmt(result.valid.get(name)), _fmt(champion)
            )
    console.print(table)
    print_gate(result.gate)
    if result.model is not None:
        console.print(f"[green]registered {result.model.ref} and promoted it to champion[/]")
    elif not result.gate.passed:
        console.print("[red]gate failed: the model was not registered[/]")
        raise typer.Exit(1)
    else:
        console.print("not registered (--no-register)")


def gate_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="MODEL@VERSION or MODEL@ALIAS to check."),
) -> None:
    """Check a model version against the gate in forgeml.yaml; exit 1 when it fails (for CI)."""
    from forgeml.training.gate_version import gate

    report = gate(ref, project=state(ctx).project())
    console.print(
        f"{report.version.ref} on its held-out rows"
        + (f" versus champion @{report.champion['version']}" if report.champion else "")
    )
    print_gate(report.result)
    if not report.result.passed:
        raise typer.Exit(1)


def report_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="MODEL@VERSION or MODEL@ALIAS."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="HTML file to write (default: NAME-vN.html)."
    ),
) -> None:
    """Write a model version's card: one HTML file that opens offline."""
    from forgeml.training.report import write_report

    path = write_report(ref, output, project=state(ctx).project())
    console.print(f"model card written to {path}")


def print_gate(result: GateResult) -> None:
    if not result.checks:
        console.print("gate: no checks declared (add a 'gate:' section to forgeml.yaml)")
        return
    table = Table("check", "value", "bound", "result", "detail", title="gate", title_justify="left")
    for check in result.checks:
        add_row(
            table,
            check.name,
            _fmt(check.value),
            check.bound,
            "pass" if check.passed else "FAIL",
            check.detail,
        )
    console.print(table)
    console.print("[green]gate passed[/]" if result.passed else "[red]gate failed[/]")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4f}"
    return "-" if value is None else str(value)


def _params(params: dict[str, Any]) -> str:
    if not params:
        return "(default settings)"
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )
