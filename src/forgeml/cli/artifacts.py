"""forgeml scan, forgeml export: what the stored models are made of, and other formats."""

from __future__ import annotations

import typer
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console

__all__ = ["scan_command"]


def scan_command(ctx: typer.Context) -> None:
    """List every stored model part with its format; exit 1 when one would need pickle."""
    from forgeml.registry.scan import scan

    parts = scan(project=state(ctx).project())
    if not parts:
        console.print("no models yet: nothing to scan")
        return
    table = Table("version", "part", "format", "sha256", "pickle", "code")
    for p in parts:
        add_row(table, p.ref, p.part, p.format, p.sha256[:12], p.pickle or "no", p.code or "no")
    console.print(table)
    coded = sorted({p.ref for p in parts if p.code})
    if coded:
        console.print(
            f"{len(coded)} version(s) hold code that runs when they load ({', '.join(coded)}); "
            "forgeml loads them only with --trust-code / trust_code=True and a reason, "
            "recorded in the audit trail."
        )
    unsafe = [p for p in parts if not p.safe]
    if unsafe:
        console.print(
            f"{len(unsafe)} part(s) would need pickle to load, or name code forgeml never "
            "loads; forgeml refuses to load them. Store those models again with "
            "forgeml.log_model()."
        )
        raise typer.Exit(1)
    console.print(f"{len(parts)} part(s), none needs pickle")
