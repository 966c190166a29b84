"""forgeml pipeline run|step|runs|show|compile|list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import add_row, console

if TYPE_CHECKING:
    from forgeml.pipeline import PipelineRun

pipeline_app = make_typer(
    help="Run pipelines with cached steps, list their runs, or compile them for an orchestrator.",
    no_args_is_help=True,
)

SHORT_ID = 8


@pipeline_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the project's pipelines and their steps (retrain is built in)."""
    from forgeml.pipeline import load_pipeline, pipeline_names

    spec = state(ctx).project().spec
    table = Table("pipeline", "executor", "steps")
    for name in pipeline_names(spec):
        dag = load_pipeline(name, spec)
        add_row(table, name, dag.executor, " -> ".join(dag.order()))
    console.print(table)


@pipeline_app.command("run")
def run_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The pipeline (e.g. retrain, or one in forgeml.yaml)."),
    from_step: str | None = typer.Option(
        None, "--from", help="Re-run this step and every step after it."
    ),
    only: str | None = typer.Option(
        None, "--only", help="Run only this step, on its upstream steps' stored results."
    ),
    executor: str | None = typer.Option(
        None, "--executor", help="local or ray (default: the pipeline's)."
    ),
) -> None:
    """Run a pipeline; steps whose inputs are unchanged reuse their stored results."""
    from forgeml.pipeline import run_pipeline

    run = run_pipeline(
        name,
        project=state(ctx).project(),
        from_step=from_step,
        only=only,
        force=only is not None,
        executor=executor,
        progress=_say,
    )
    _summary(run)


@pipeline_app.command("step")
def step_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The pipeline."),
    step: str = typer.Argument(..., help="The step to run."),
    force: bool = typer.Option(False, "--force", help="Run it even when its result is stored."),
) -> None:
    """Run one step of a pipeline on its upstream results (what orchestrator tasks call).

    A step whose inputs are unchanged reuses its stored result, so a retried task is
    harmless. Exits 1 when the step fails.
    """
    from forgeml.pipeline import run_pipeline

    run = run_pipeline(name, project=state(ctx).project(), only=step, force=force, progress=_say)
    _summary(run)


@pipeline_app.command("runs")
def runs_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", "-n", help="How many runs, newest first."),
) -> None:
    """List pipeline runs, newest first, with how many steps ran and how many were reused."""
    from forgeml.store import pipelines as queries

    project = state(ctx).project()
    with project.store.read() as session:
        runs = queries.latest_runs(session, name, limit)
        table = Table("run", "pipeline", "status", "started", "seconds", "ran", "reused", "failed")
        for run in runs:
            counts = {s: sum(1 for x in run.steps if x.status == s) for s in _STATUSES}
            add_row(
                table,
                run.id[:SHORT_ID],
                run.pipeline,
                run.status,
                f"{run.started_at:%Y-%m-%d %H:%M:%S}",
                f"{run.seconds:.1f}" if run.seconds is not None else "-",
                str(counts["succeeded"] + counts["failed"]),
                str(counts["cached"]),
                str(counts["failed"]),
            )
    if not runs:
        console.print("no pipeline runs yet: start one with 'forgeml pipeline run retrain'")
        return
    console.print(table)


_STATUSES = ("succeeded", "cached", "failed", "skipped")


@pipeline_app.command("show")
def show_command(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The run id (or its first 6+ characters)."),
    as_json: bool = typer.Option(False, "--json", help="Print every field as JSON."),
) -> None:
    """Show one pipeline run: each step's status, timing, cache key, inputs and outputs."""
    from forgeml.store import pipelines as queries

    project = state(ctx).project()
    with project.store.read() as session:
        run = queries.get_run(session, run_id)
        document: dict[str, Any] = {
            "id": run.id,
            "pipeline": run.pipeline,
            "status": run.status,
            "executor": run.executor,
            "options": run.options,
            "created_by": run.created_by,
            "started_at": run.started_at.isoformat(),
            "seconds": run.seconds,
            "error": run.error,
            "steps": [
                {
                    "step": s.step,
                    "uses": s.uses,
                    "status": s.status,
                    "attempts": s.attempts,
                    "seconds": s.seconds,
                    "cache_key": s.cache_key,
                    "inputs": s.inputs,
                    "outputs": s.outputs,
                    "error": s.error,
                }
                for s in run.steps
            ],
        }
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    console.print(
        f"pipeline run {document['id']}: [bold]{document['pipeline']}[/] {document['status']} "
        f"({document['executor']}, {document['seconds'] or 0:.1f} s, by {document['created_by']})",
        highlight=False,
    )
    table = Table("step", "uses", "status", "attempts", "seconds", "cache key", "outputs")
    steps: list[dict[str, Any]] = document["steps"]
    for s in steps:
        outputs = {k: v for k, v in (s["outputs"] or {}).items() if k not in ("gate", "files")}
        add_row(
            table,
            s["step"],
            s["uses"],
            s["status"],
            str(s["attempts"]),
            f"{s['seconds']:.1f}" if s["seconds"] is not None else "-",
            (s["cache_key"] or "-")[:12],
            json.dumps(outputs, default=str)[:120] if outputs else (s["error"] or "-"),
        )
    console.print(table)
    if document["error"]:
        console.print(f"[red]{document['error']}[/]", markup=True, highlight=False)


@pipeline_app.command("compile")
def compile_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The pipeline."),
    output: Path = typer.Argument(..., help="The file to write."),
    target: str = typer.Option(..., "--target", "-t", help="airflow, kfp or argo."),
    image: str | None = typer.Option(
        None, "--image", help="Container image for kfp and argo (default: the pipeline's image)."
    ),
) -> None:
    """Write the pipeline as an Airflow DAG, a Kubeflow Pipelines YAML or an Argo Workflow."""
    from forgeml.pipeline.compile import compile_pipeline

    path = compile_pipeline(
        name, target=target, output=output, image=image, project=state(ctx).project()
    )
    console.print(f"{target} pipeline '{name}' written to {path}", highlight=False)


def _say(text: str) -> None:
    console.print(f"   {text}", markup=False, highlight=False)


def _summary(run: PipelineRun) -> None:
    ran, reused = len(run.executed), len(run.cached)
    verdict = "[green]succeeded[/]" if run.status == "succeeded" else "[red]failed[/]"
    console.print(
        f"pipeline {run.pipeline} {verdict} in {run.seconds:.1f} s: {ran} step"
        f"{'s' if ran != 1 else ''} ran, {reused} reused from the cache (run {run.id[:SHORT_ID]})",
        highlight=False,
    )
    if run.status != "succeeded":
        raise typer.Exit(1)
