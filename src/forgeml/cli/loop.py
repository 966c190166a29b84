"""forgeml retrain, forgeml loop, forgeml cycles."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, stages
from forgeml.report.states import cycle_sentence

__all__ = ["cycles_command", "loop_command", "parse_now", "retrain_command"]

NOW_HELP = (
    "The time to act at, as an ISO timestamp (e.g. 2025-07-31 or 2025-07-31T12:00, UTC "
    "unless it names a zone): to replay a log or backfill. Default: now."
)


def parse_now(text: str | None) -> datetime | None:
    """``--now`` as an aware UTC time; a clear error when it is not an ISO timestamp."""
    from forgeml.errors import ConfigError

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--now {text!r} is not an ISO timestamp",
            fix="give a date or date and time, e.g. --now 2025-07-31 or --now 2025-07-31T12:00",
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def retrain_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model to retrain."),
    key: str | None = typer.Option(
        None, "--key", help="Resume the cycle with this key (default: a new manual cycle)."
    ),
    now: str | None = typer.Option(None, "--now", help=NOW_HELP, metavar="TIME"),
) -> None:
    """Run one retraining cycle by hand: data, challenger, champion vs challenger, rollout.

    Progress goes to stderr; stdout holds one line, the cycle's outcome, for scripts.
    """
    from forgeml.loop.cycle import retrain

    project = state(ctx).project()
    with stages(f"retraining {model}") as progress:
        cycle = retrain(model, project=project, key=key, now=parse_now(now), progress=progress)
    console.print(
        f"cycle {cycle.key}: {cycle_sentence(cycle.status, cycle.stage, cycle.details)}",
        markup=False,
        soft_wrap=True,
    )


def loop_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model the loop looks after."),
    once: bool = typer.Option(False, "--once", help="One tick, then exit."),
    every: str | None = typer.Option(
        None, "--every", help="Time between ticks, e.g. 10m (default: policy.check_every)."
    ),
    now: str | None = typer.Option(None, "--now", help=NOW_HELP, metavar="TIME"),
) -> None:
    """Apply the project's policy as a daemon: monitor, retrain, settle rollouts, promote.

    Holds the lease 'loop:MODEL' in the metadata store, so a second loop on the same
    project waits rather than retraining too. Stop it with Ctrl-C.
    """
    from forgeml.config import parse_duration
    from forgeml.loop.daemon import run_loop

    interval = parse_duration(every) if every else None
    clock = parse_now(now)
    say = lambda text: console.print(  # noqa: E731 - a one-line printer
        f"{datetime.now(UTC):%H:%M:%S} {text}", markup=False
    )
    try:
        ticks = run_loop(
            model,
            project=state(ctx).project(),
            once=once,
            interval=interval,
            progress=say,
            now=clock,
        )
    except KeyboardInterrupt:
        console.print("stopped")
        return
    for tick in ticks[-1:]:
        fired = ", ".join(tick.fired) or "nothing"
        console.print(f"last tick {tick.now:%Y-%m-%d %H:%M}: {fired} fired")


def cycles_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model."),
) -> None:
    """The model's retraining cycles, newest first, with what each decided and why."""
    from forgeml.store import cycles as rows

    project = state(ctx).project()
    with project.store.read() as session:
        found = rows.latest(session, model)
        table = Table("key", "challenger", "what happened")
        for c in found:
            details = c.details or {}
            add_row(
                table,
                c.key,
                f"@{details['challenger']}" if details.get("challenger") else "-",
                cycle_sentence(c.status, c.stage, details),
            )
    if not found:
        console.print(f"model '{model}' has had no retraining cycles")
        return
    console.print(table)
