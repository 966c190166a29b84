"""forgeml runs, forgeml runs show, forgeml runs compare."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, print_json
from forgeml.training.tracking import RunInfo, get_run, list_runs

runs_app = make_typer(help="List tracked runs, show one, or compare several side by side.")

LIST_METRICS = 3  # metrics shown per run in the list
SHORT_ID = 8
WIDE_COLUMNS = 120  # terminals this wide also list each run's kind and dataset
SEARCH_SCORE = "search/score"


@runs_app.callback(invoke_without_command=True)
def runs_list(
    ctx: typer.Context,
    experiment: str | None = typer.Option(
        None, "--experiment", "-e", help="Only runs of this experiment."
    ),
    status: str | None = typer.Option(
        None,
        "--status",
        "-s",
        help="Only runs with this status: running, finished, failed or crashed.",
    ),
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs to list, newest first."),
    wide: bool = typer.Option(
        False,
        "--wide",
        "-w",
        help="Also show each run's kind and dataset (shown anyway when "
        f"the terminal has {WIDE_COLUMNS}+ columns).",
    ),
) -> None:
    """List recent runs (or see one with 'forgeml runs show RUN_ID')."""
    if ctx.invoked_subcommand is not None:
        return
    runs = list_runs(
        project=state(ctx).project(), experiment=experiment, status=status, limit=limit
    )
    if not runs:
        filtered = experiment is not None or status is not None
        console.print(
            "no runs match" if filtered else "no runs yet: start one with start_run() in Python"
        )
        return
    console.print(_runs_table(runs, wide=wide or console.width >= WIDE_COLUMNS))


def _runs_table(runs: list[RunInfo], *, wide: bool) -> Table:
    """One row per run; narrow terminals get the columns that tell runs apart."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    headers = ["run", "experiment", "kind", "status", "dataset", "metrics", "started", "took"]
    if not wide:
        headers = [h for h in headers if h not in ("kind", "dataset")]
    for header in headers:
        wraps = header in ("experiment", "dataset", "metrics")  # the rest never breaks
        table.add_column(header, no_wrap=not wraps, overflow="fold")
    this_year = datetime.now(UTC).year
    for run in runs:
        started = run.started_at
        cells = {
            "run": run.id[:SHORT_ID],
            "experiment": run.experiment,
            "kind": run.kind,
            "status": run.status,
            "dataset": run.dataset or "-",
            "metrics": _main_metrics(run),
            "started": f"{started:%Y-%m-%d %H:%M}"
            if wide or started.year != this_year
            else f"{started:%m-%d %H:%M}",
            "took": _took(run),
        }
        add_row(table, *(cells[h] for h in headers))
    return table


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A run id, or a unique prefix of 6+ characters."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole record as JSON."),
) -> None:
    """Show a run: params, last metrics, artifacts, lineage, code and package versions."""
    run = get_run(run_id, project=state(ctx).project())
    if as_json:
        record = dataclasses.asdict(run)
        for key in ("started_at", "ended_at"):
            record[key] = record[key] and record[key].isoformat()
        print_json({**record, "duration_s": run.duration_s})
        return
    console.print(
        f"[bold]run {run.id}[/]  {_status(run.status)}  experiment [bold]{run.experiment}[/]  "
        f"kind {run.kind}",
        soft_wrap=True,
    )
    for label, fact in (
        ("started", f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("took", _took(run)),
        ("by", f"{run.created_by} on {run.host}"),
        ("dataset", run.dataset or "-"),
        ("code", _code(run.code_version)),
        ("python", " on ".join(run.packages.get(k, "?") for k in ("python", "platform"))),
        ("packages", _packages(run.packages)),
    ):
        console.print(Text.assemble((f"{label:<10}", "bold"), fact))
    if run.error:
        console.print("[bold red]error[/]")
        console.print(Text(run.error, style="red"))
    for title, values, formatter in (
        ("param", run.params, _value),
        ("metric", run.metrics, _metric),
        ("tag", run.tags, _value),
    ):
        if values:
            table = Table(title, "last value" if title == "metric" else "value")
            for key, value in values.items():
                add_row(table, key, formatter(value))
            console.print(table)
    if run.artifacts:
        table = Table("artifact", "sha256")
        for name, sha in run.artifacts.items():
            add_row(table, name, sha)
        console.print(table)


@runs_app.command("compare")
def runs_compare(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or unique prefixes)."),
) -> None:
    """Params and metrics of several runs side by side; params that differ are marked ≠."""
    if len(run_ids) < 2:
        raise typer.BadParameter("give at least two run ids to compare", param_hint="RUN_IDS")
    project = state(ctx).project()
    runs = [get_run(run_id, project=project) for run_id in run_ids]
    table = Table("", "", *(run.id[:SHORT_ID] for run in runs))
    rows: list[tuple[str, list[str]]] = [
        ("experiment", [r.experiment for r in runs]),
        ("kind", [r.kind for r in runs]),
        ("status", [r.status for r in runs]),
        ("dataset", [r.dataset or "-" for r in runs]),
        ("code", [_code(r.code_version, short=True) for r in runs]),
        ("started", [f"{r.started_at:%Y-%m-%d %H:%M}" for r in runs]),
        ("took", [_took(r) for r in runs]),
    ]
    _add_group(table, "run", rows, mark=False)
    table.add_section()
    params = _union(r.params for r in runs)
    _add_group(
        table,
        "params",
        [(k, [_value(r.params[k]) if k in r.params else "-" for r in runs]) for k in params],
        mark=True,
    )
    table.add_section()
    metrics = _union(r.metrics for r in runs)
    _add_group(
        table,
        "metrics",
        [(k, [_metric(r.metrics[k]) if k in r.metrics else "-" for r in runs]) for k in metrics],
        mark=False,
    )
    console.print(table)


def _add_group(table: Table, label: str, rows: list[tuple[str, list[str]]], *, mark: bool) -> None:
    if not rows:
        add_row(table, label, "(none)", *([""] * (len(table.columns) - 2)))
    for i, (name, cells) in enumerate(rows):
        differs = mark and len(set(cells)) > 1
        style = "bold yellow" if differs else ""
        table.add_row(
            Text(label if i == 0 else "", style="bold"),
            Text(f"{name} ≠" if differs else name, style=style),
            *(Text(cell, style=style) for cell in cells),
        )


def _union(mappings: Any) -> list[str]:
    keys: dict[str, None] = {}
    for mapping in mappings:
        keys.update(dict.fromkeys(mapping))
    return sorted(keys)


def _main_metrics(run: RunInfo) -> str:
    """A training run's main test metric and best search score; else its first metrics.

    ``search/score`` is each trial's score (its last value is the last trial's), so the
    list shows ``search/best``, the best score so far, instead.
    """
    metrics = run.metrics
    main = run.tags.get("metric")
    keys = [k for k in (f"test/{main}", "search/best") if main and k in metrics]
    if not keys:
        keys = [k for k in metrics if k != SEARCH_SCORE or "search/best" not in metrics]
        keys = keys[:LIST_METRICS]
    shown = [f"{k}={_metric(metrics[k], 4)}" for k in keys]
    more = len(metrics) - len(keys)
    return "\n".join(shown + ([f"+{more} more"] if more > 0 else [])) or "-"


def _metric(value: float | None, digits: int = 6) -> str:
    return "null" if value is None else f"{value:.{digits}g}"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _packages(packages: dict[str, str]) -> str:
    listed = [f"{k} {v}" for k, v in packages.items() if k not in ("python", "platform")]
    return ", ".join(listed) or "-"


def _status(status: str) -> str:
    color = {"finished": "green", "failed": "red", "crashed": "red"}.get(status, "yellow")
    return f"[bold {color}]{status}[/]"


def _code(code: dict[str, Any], *, short: bool = False) -> str:
    if not code:
        return "-" if short else "- (not in a git repository)"
    commit = code.get("commit")
    text = commit[:12] if commit else "no commit yet"
    if short:
        return text + (" (dirty)" if code.get("dirty") else "")
    details = [code["branch"]] if code.get("branch") else []
    if code.get("dirty"):
        details.append("uncommitted changes")
    return f"{text} ({', '.join(details)})" if details else text


def _took(run: RunInfo) -> str:
    if run.ended_at is None:
        elapsed = (datetime.now(UTC) - run.started_at).total_seconds()
        return _duration(elapsed) + "…"
    return _duration((run.ended_at - run.started_at).total_seconds())


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
