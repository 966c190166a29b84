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
    backend: str = typer.Option(
        "local",
        "--backend",
        help="local, or ray: run the search's trials as Ray tasks (needs forgeml[ray]).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="The Ray cluster for --backend ray (e.g. auto)."
    ),
) -> None:
    """Train candidates, evaluate and gate the best; register and promote it if it passes."""
    from forgeml.training.trainer import train

    if backend not in ("local", "ray"):
        raise typer.BadParameter(f"'{backend}' is not local or ray", param_hint="--backend")
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
            backend=backend,
            address=address,
        )
    print_dataset(result.context)
    for warning in result.warnings:
        console.print(f"[yellow]{escape(warning)}[/]")
    trials_done = len(result.trials)
    console.print(
        (f"best of {trials_done} trials: " if trials_done else "fitted by ")
        + f"[bold]{result.candidate}[/] {_params(result.params)}  (run {result.run_id[:8]})"
    )
    print_decision(result.context)
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
    trust_code: bool = typer.Option(
        False,
        "--trust-code",
        help="Admit the code the version holds (Keras Lambda layers, .h5) so it can predict; "
        "recorded in the audit trail with --trust-reason.",
    ),
    trust_reason: str | None = typer.Option(
        None, "--trust-reason", help="With --trust-code: why (kept in the audit trail)."
    ),
) -> None:
    """Check a model version against the gate in forgeml.yaml; exit 1 when it fails (for CI)."""
    from forgeml.training.gate_version import gate

    if trust_reason is not None and not trust_code:
        raise typer.BadParameter("only with --trust-code", param_hint="--trust-reason")
    report = gate(
        ref, trust_code=trust_code, trust_reason=trust_reason, project=state(ctx).project()
    )
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


def print_dataset(context: dict[str, Any]) -> None:
    """Which dataset version the model learnt from, and how its rows were split."""
    data = context.get("dataset") or {}
    split = data.get("split") or {}
    console.print(
        f"trained on dataset [bold]{escape(str(data.get('ref')))}[/]: {data.get('rows', 0):,} rows "
        f"({split.get('method', '?')} split: {split.get('train', 0):,} train, "
        f"{split.get('valid', 0):,} validation, {split.get('test', 0):,} test)"
    )


def print_decision(context: dict[str, Any]) -> None:
    """For a binary model: which class it scores, and the threshold it decides at."""
    from forgeml.report.text import probability

    model = context.get("model") or {}
    if model.get("task") != "binary":
        return
    threshold = model.get("threshold")
    console.print(
        f"positive class: {escape(repr(model.get('positive_class')))} (scores are its "
        "probability); it is predicted when the score is at least "
        f"{probability(threshold if threshold is not None else 0.5)}"
    )


def print_gate(result: GateResult) -> None:
    if result.note:
        console.print(f"{escape(result.note)}")
    if not result.checks:
        console.print("gate: no check ran")
        return
    table = Table("check", "value", "bound", "result", "detail", title="gate", title_justify="left")
    for check in result.checks:
        add_row(table, check.name, _fmt(check.value), check.bound, check.outcome, check.detail)
    console.print(table)
    for check in result.skipped:
        console.print(f"[yellow]skipped[/] {escape(check.name)}: {escape(check.detail)}")
    colour = "red" if not result.passed else "green" if result.ran else "yellow"
    console.print(f"[{colour}]{result.verdict}[/]")


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
