"""forgeml monitor, forgeml alerts"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forgeml.cli.context import state
from forgeml.cli.output import add_row, console, errors, stages

if TYPE_CHECKING:  # monitoring loads SciPy and River: import it when a command runs
    from forgeml.monitor.alerts import Alert
    from forgeml.monitor.run import MonitorReport

__all__ = ["ENV_WEBHOOKS", "alerts_command", "monitor_command"]

ENV_WEBHOOKS = "FORGEML_ALERT_WEBHOOKS"
DELIVERY_WAIT_S = 10.0  # a one-shot command waits this long for webhooks, then moves on
MAX_PRINTED = 10  # new alerts printed; the rest are listed by 'forgeml alerts'
HEADERS = ("window (UTC)", "rows", "drifted inputs", "data quality")


def monitor_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model to monitor."),
    window: str | None = typer.Option(
        None, "--window", "-w", help="Window size: 30m, 6h, 1d, 2w (default: monitor.window, 1d)."
    ),
    start: str | None = typer.Option(
        None, "--from", help="Start, an ISO date or time (UTC unless it says otherwise)."
    ),
    end: str | None = typer.Option(
        None, "--to", help="End, exclusive (default: now; --from defaults to one window before)."
    ),
    alias: str = typer.Option("champion", "--alias", "-a", help="Monitor the version it names."),
    metric: str | None = typer.Option(
        None, "--metric", help="Performance metric (default: monitor.metric, else the task's)."
    ),
    max_drop: float | None = typer.Option(
        None, "--max-drop", min=0, help="Allowed fall below the test metric (default 0.05)."
    ),
    min_labels: int | None = typer.Option(
        None, "--min-labels", min=1, help="Labels a window needs to judge decay (default 100)."
    ),
    json_path: str | None = typer.Option(
        None, "--json", help="Write the report as JSON to this file ('-': standard output)."
    ),
    html_path: Path | None = typer.Option(
        None, "--html", help="Write the HTML report here (default: monitor-MODEL-END.html)."
    ),
    no_html: bool = typer.Option(False, "--no-html", help="Do not write the HTML report."),
    webhooks: list[str] = typer.Option(
        [], "--webhook", help=f"POST new alerts to this URL (repeatable; also {ENV_WEBHOOKS})."
    ),
    no_alerts: bool = typer.Option(
        False, "--no-alerts", help="Neither store nor send alerts (a dry look)."
    ),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit with 1 when inputs drifted or performance decayed."
    ),
    backend: str = typer.Option(
        "local",
        "--backend",
        help="local, or ray: profile each window in partitions on Ray and merge them "
        "(needs forgeml[ray]).",
    ),
    address: str | None = typer.Option(
        None, "--address", help="The Ray cluster for --backend ray (e.g. auto)."
    ),
) -> None:
    """Drift, data quality and performance of a served model, window by window.

    Reads the prediction log of the range, compares each window with the version's
    training data, prints a table and a verdict, writes the HTML (and JSON) report, and
    stores new alerts once, POSTing them to the webhooks in the background. Findings are
    not errors: the exit code is 0 unless --fail-on-drift is given.
    """
    from forgeml.monitor.alerts import deliver
    from forgeml.monitor.html import write_monitor_report
    from forgeml.monitor.run import monitor, parse_window

    project = state(ctx).project()
    if backend not in ("local", "ray"):
        raise typer.BadParameter(f"'{backend}' is not local or ray", param_hint="--backend")
    extra: dict[str, Any] = {}
    if backend == "ray":
        from forgeml.monitor.ray_profiles import ray_profiler

        extra["profile"] = ray_profiler(address=address)
    settings = project.spec.monitor
    hooks = [] if no_alerts else _webhooks(webhooks, settings.webhooks)
    size = parse_window(window or settings.window)
    out = errors if json_path == "-" else console  # the JSON owns standard output
    page: Path | None = None
    with stages(f"monitoring {escape(model)}", quiet=out is errors) as progress:
        progress("reading the prediction log")
        report = monitor(
            model,
            project=project,
            start=_when(start, "--from"),
            end=_when(end, "--to"),
            window=size,
            alias=alias,
            metric=metric or settings.metric,
            max_drop=settings.max_drop if max_drop is None else max_drop,
            min_labels=settings.min_labels if min_labels is None else min_labels,
            alert=not no_alerts,
            progress=progress,
            **extra,
        )
        if not no_html:
            progress("writing the report")
            page = write_monitor_report(report, html_path or _default_html(report), project=project)
    _print_report(report, out)
    if json_path == "-":
        typer.echo(json.dumps(_finite(report.to_dict()), indent=2))
    elif json_path:
        Path(json_path).write_text(json.dumps(_finite(report.to_dict()), indent=2) + "\n")
        out.print(f"JSON report: {json_path}", markup=False)
    if page is not None:
        out.print(f"HTML report: {page}", markup=False)
    if hooks:
        thread = deliver(project, hooks)
        if thread is not None:
            thread.join(timeout=DELIVERY_WAIT_S)
            if thread.is_alive():
                out.print(
                    f"webhooks did not answer within {DELIVERY_WAIT_S:g} s: alerts not "
                    "delivered yet are sent again on the next run"
                )
    if fail_on_drift and (report.drifted or report.decayed):
        raise typer.Exit(1)


def _print_report(report: MonitorReport, out: Console = console) -> None:
    """The window table, the verdict line and the new alerts, as ``forgeml monitor`` prints."""
    from forgeml.monitor.run import summary_rows

    out.print(
        f"{report.model} v{report.version.version}: {report.start:%Y-%m-%d %H:%M} to "
        f"{report.end:%Y-%m-%d %H:%M} UTC, {len(report.windows)} windows"
    )
    table = Table(*HEADERS, f"{report.metric} (labels)")
    table.columns[1].justify = "right"
    for row in summary_rows(report):
        add_row(table, *row)
    out.print(table)
    out.print(_verdict(report), markup=False, soft_wrap=True)
    if report.label_conflicts:
        out.print(
            f"{report.label_conflicts} feedback label(s) conflict with an earlier label for the "
            "same request: the first label is kept (forgeml's log keeps them all)",
            markup=False,
            soft_wrap=True,
        )
    new = [a for a in report.alerts if a.created]
    known = len(report.alerts) - len(new)
    if new:
        out.print(f"new alerts ({len(new)}):")
        for alert in new[:MAX_PRINTED]:
            at = f" {alert.window_start:%Y-%m-%d %H:%M}" if alert.window_start else ""
            out.print(
                f"  {alert.severity} {alert.kind}{at}: {alert.message}",
                markup=False,
                soft_wrap=True,
            )
        if len(new) > MAX_PRINTED:
            out.print(f"  … and {len(new) - MAX_PRINTED} more: see 'forgeml alerts {report.model}'")
    if known:
        out.print(f"{known} alert{'s' if known > 1 else ''} raised before, not repeated")


def _verdict(report: MonitorReport) -> str:
    """One line: drifted / decayed / ok, with the drifted inputs and the quality issues."""
    found = []
    if report.drifted:
        names = sorted({n for w in report.windows if w.drift for n in w.drift.drifted_columns})
        found.append(f"drifted ({', '.join(names)})")
    if report.decayed:
        found.append(f"decayed ({report.metric} fell more than allowed below its baseline)")
    issues = sorted({i for w in report.windows if w.quality for i in w.quality.issues})
    if issues:
        found.append(f"data quality ({', '.join(issues[:6])})")
    if found:
        return "verdict: " + "; ".join(found)
    if not any(w.drift is not None for w in report.windows):
        return "verdict: ok, but no window had enough rows to test for drift"
    return "verdict: ok (no drift, no decay)"


def alerts_command(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, help="Only this model's alerts."),
    since: str | None = typer.Option(
        None, "--since", help="Only alerts raised at or after this ISO date or time (UTC)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the alerts as JSON."),
) -> None:
    """List stored alerts, oldest first: when, model, kind, severity, message, delivery."""
    from forgeml.monitor.alerts import list_alerts

    project = state(ctx).project()
    found = list_alerts(project, model, since=_when(since, "--since"))
    hooked = bool(_webhooks([], project.spec.monitor.webhooks))
    if as_json:
        typer.echo(json.dumps([_alert_dict(a) for a in found], indent=2))
        return
    if not found:
        console.print("no alerts" + (f" for model '{model}'" if model else ""), markup=False)
        return
    headers = ["raised (UTC)", "model", "kind", "severity", "message", "delivered"]
    if model is not None:
        headers.remove("model")  # one model: said once, in the command
    table = Table()
    for header in headers:
        table.add_column(header, no_wrap=header != "message")  # the message takes the rest
    for a in found:
        cells = [f"{a.created_at:%Y-%m-%d %H:%M}", a.model, a.kind, a.severity, a.message]
        add_row(
            table, *(cells[:1] + cells[2:] if model is not None else cells), _delivery(a, hooked)
        )
    console.print(table)
    if not hooked and any(a.delivered_at is None for a in found):
        console.print(
            f"no webhook configured: alerts are only stored; set monitor.webhooks in "
            f"forgeml.yaml or {ENV_WEBHOOKS} to have them sent",
            markup=False,
            soft_wrap=True,
        )


def _delivery(alert: Alert, hooked: bool) -> str:
    if alert.delivered_at is not None:
        return f"{alert.delivered_at:%Y-%m-%d %H:%M}"
    if alert.attempts:
        return f"no ({alert.attempts} attempt{'s' if alert.attempts > 1 else ''})"
    return "pending" if hooked else "no webhook configured"


def _alert_dict(alert: Alert) -> dict[str, Any]:
    data = alert.to_dict()
    data["delivered_at"] = None if alert.delivered_at is None else alert.delivered_at.isoformat()
    data["attempts"] = alert.attempts
    return data


def _when(text: str | None, option: str) -> datetime | None:
    """An ISO date or date-time; naive means UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO date or time: use e.g. 2025-03-01 or 2025-03-01T06:00",
            param_hint=option,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _webhooks(given: list[str], configured: list[str]) -> list[str]:
    """--webhook URLs, then the environment's, then forgeml.yaml's; each once, checked."""
    from forgeml.monitor.alerts import safe_url

    env = [u.strip() for u in os.environ.get(ENV_WEBHOOKS, "").split(",") if u.strip()]
    hooks = list(dict.fromkeys([*given, *env, *configured]))
    for url in hooks:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise typer.BadParameter(
                f"webhook {safe_url(url)} is not an http(s) URL: use e.g. "
                "https://hooks.example.com/forgeml",
                param_hint="--webhook",
            )
    return hooks


def _default_html(report: MonitorReport) -> Path:
    """``monitor-MODEL-END.html`` in the current folder (the end's time when not midnight)."""
    end = report.end
    midnight = end.hour == end.minute == end.second == end.microsecond == 0
    stamp = f"{end:%Y-%m-%d}" if midnight else f"{end:%Y-%m-%dT%H%M}"
    return Path(f"monitor-{re.sub(r'[^A-Za-z0-9._-]+', '-', report.model)}-{stamp}.html")


def _finite(value: Any) -> Any:
    """The document with NaN and infinities as null, so it is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
