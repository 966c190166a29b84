"""forgeml models, register, promote, rollback, history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console
from forgeml.registry import (
    history,
    list_models,
    model_version,
    promote,
    register_run,
    rollback,
    versions,
)
from forgeml.registry.aliases import AliasEvent
from forgeml.report.states import alias_sentence

__all__ = [
    "history_command",
    "models_command",
    "promote_command",
    "register_command",
    "rollback_command",
]

ALIAS_HELP = "The alias to move, e.g. champion or challenger."
ACTOR_HELP = "Who is making the change (default: user@host)."


def models_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Show the versions of this model."),
) -> None:
    """List registered models, or the versions of one model with metrics and aliases."""
    project = state(ctx).project()
    if name is not None:
        table = Table("version", "flavor", "metrics", "aliases", "run", "created")
        for v in versions(name, project=project):
            add_row(
                table,
                f"@{v.version}",
                v.flavor,
                _metrics(v.metrics),
                ", ".join(v.aliases),
                v.run_id[:12] if v.run_id else "-",
                f"{v.created_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)
        return
    rows = list_models(project=project)
    if not rows:
        console.print("no models yet: run 'forgeml register RUN_ID'")
        return
    table = Table("model", "versions", "latest", "aliases", "updated")
    for m in rows:
        held = ", ".join(f"{alias} @{version}" for alias, version in m.aliases.items())
        add_row(
            table,
            m.name,
            str(m.versions),
            f"@{m.latest}",
            held or "-",
            f"{m.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


def register_command(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The id of the training run whose model to register."),
    name: str | None = typer.Option(
        None, "--name", "-n", help="Model name (default: the run's experiment)."
    ),
) -> None:
    """Register the model a run produced as a new model version.

    The run must have recorded these artifacts: model/bundle (the bundle id),
    model/signature.json, model/metrics.json and model/lineage.json (JSON objects), and
    optionally model/card.html.
    """
    v = register_run(run_id, name=name, project=state(ctx).project())
    console.print(
        f"[bold]{v.ref}[/] registered from run {run_id} "
        f"({v.flavor}, bundle {v.artifact_sha256[:12]})"
    )


def promote_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="MODEL@VERSION (or MODEL@ALIAS, or MODEL for the newest)."),
    alias: str = typer.Option("champion", "--alias", "-a", help=ALIAS_HELP),
    reason: str = typer.Option(..., "--reason", "-r", help="Why: recorded in the audit trail."),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
    trust_code: bool = typer.Option(
        False,
        "--trust-code",
        help="Admit the code the version holds (Keras Lambda layers, .h5) to check that it "
        "predicts; recorded in the audit trail with --reason.",
    ),
) -> None:
    """Point an alias at a model version; the move is recorded with who, when and why."""
    project = state(ctx).project()
    target = model_version(ref, project=project)  # pin the number: 'credit' may move on
    if trust_code:
        from forgeml.registry.code_trust import trust_code as grant_trust

        grant_trust(target.ref, reason=reason, actor=actor, project=project)
    event = promote(target.ref, alias=alias, reason=reason, actor=actor, project=project)
    if alias in target.aliases:
        console.print(f"{target.ref} already holds '{alias}': nothing changed")
        return
    was = f"was @{event.from_version}" if event.from_version is not None else "new alias"
    console.print(f"[bold]{target.ref}[/] is now '{alias}' ({was})")


def rollback_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The model whose alias to roll back."),
    alias: str = typer.Option("champion", "--alias", "-a", help=ALIAS_HELP),
    reason: str = typer.Option(
        "rollback", "--reason", "-r", help="Why: recorded in the audit trail."
    ),
    actor: str | None = typer.Option(None, "--actor", help=ACTOR_HELP),
) -> None:
    """Move an alias back to the version that held it before."""
    event = rollback(name, alias=alias, reason=reason, actor=actor, project=state(ctx).project())
    console.print(
        f"'{alias}' of {name} rolled back: @{event.from_version} → [bold]@{event.to_version}[/]"
    )


def history_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The model whose alias moves to show."),
    alias: str | None = typer.Option(None, "--alias", "-a", help="Only this alias."),
) -> None:
    """Show who moved a model's aliases and who trusted its code, newest first."""
    project = state(ctx).project()
    events = history(name, alias=alias, project=project)
    if not events:
        console.print(f"no alias moves yet for {name}: run 'forgeml promote {name}@N'")
    else:
        _print_alias_moves(events)
    if alias is None:
        _print_trust_grants(name, project)


def _print_alias_moves(events: list[AliasEvent]) -> None:
    table = Table("when (UTC)", "alias", "action", "versions", "actor", "reason", "gate")
    for e in events:
        add_row(
            table,
            f"{e.created_at:%Y-%m-%d %H:%M:%S}",
            e.alias,
            alias_sentence(e.action),
            _move(e),
            e.actor,
            e.reason,
            _gate(e.gate),
        )
    console.print(table)


def _print_trust_grants(name: str, project: Any) -> None:
    """The audited grants of trust in the code of ``name``'s versions (none for most models)."""
    from forgeml.registry.code_trust import trust_history

    grants = trust_history(name, project=project)
    if not grants:
        return
    table = Table("when (UTC)", "version", "for", "code admitted", "actor", "reason")
    for g in reversed(grants):
        add_row(
            table,
            f"{g.created_at:%Y-%m-%d %H:%M:%S}",
            f"@{g.version}",
            g.action,
            ", ".join(g.admitted) or "none",
            g.actor,
            g.reason,
        )
    console.print("code trusted (Keras Lambda layers, .h5 files, pickles read on import):")
    console.print(table)


def _move(event: AliasEvent) -> str:
    before = f"@{event.from_version}" if event.from_version is not None else "-"
    after = f"@{event.to_version}" if event.to_version is not None else "-"
    return f"{before} → {after}"


def _gate(gate: dict[str, Any] | None) -> str:
    if gate is None:
        return "-"
    passed = gate.get("passed")
    verdict = "passed" if passed is True else "failed" if passed is False else "no check ran"
    return f"{verdict} (default gate)" if gate.get("default") else verdict


def _metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    """The first few numbers of a metrics document; nested keys joined by '/'."""
    from forgeml.report.text import probability

    flat = list(_numbers(metrics))
    shown = [
        f"{key} {probability(value) if key.endswith('threshold') else f'{value:.4g}'}"
        for key, value in flat[:limit]
    ]
    more = len(flat) - limit
    return "  ".join(shown) + (f"  (+{more})" if more > 0 else "") if shown else "-"


def _numbers(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in document.items():
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{key}/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield f"{prefix}{key}", value
