"""forgeml serve, and forgeml rollout start|stop|status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import add_row, console
from forgeml.report.states import rollout_sentence

__all__ = ["rollout_app", "serve_command"]

rollout_app = make_typer(
    help="Shadow or canary a challenger version beside the champion.", no_args_is_help=True
)


def serve_command(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, help="The model to serve (or --model-dir)."),
    command: list[str] | None = typer.Argument(
        None, help="'serve', as platforms pass it to a container (accepted and ignored)."
    ),
    model_dir: str | None = typer.Option(
        None,
        "--model-dir",
        help="Serve an exported model directory (a folder, or a gs://, s3:// or az:// "
        "URL); no project needed.",
    ),
    log_dir: str | None = typer.Option(
        None, "--log-dir", help="With --model-dir: log predictions to this folder."
    ),
    alias: str = typer.Option("champion", "--alias", "-a", help="Serve the version it names."),
    profile: str | None = typer.Option(
        None,
        "--profile",
        help="Speak a platform's contract: sagemaker, sagemaker-serverless, vertex or azureml "
        "(port, routes, payload limit from the platform's environment).",
    ),
    host: str | None = typer.Option(
        None, "--host", help="Interface to bind (default 127.0.0.1; 0.0.0.0 under a profile)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port to bind (default 8000, or the profile's)."
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Server processes."),
    out_of_range: str = typer.Option(
        "flag", "--out-of-range", help="flag (default) or refuse numbers far outside training."
    ),
    max_rows: int = typer.Option(10_000, "--max-rows", min=1, help="Rows per request, at most."),
    max_body: int | None = typer.Option(
        None,
        "--max-body-bytes",
        min=1,
        help="Request body size, at most (default 1 MiB, or the platform's limit).",
    ),
    reload_interval: float = typer.Option(
        1.0, "--reload-interval", min=0.05, help="Seconds between checks for alias moves."
    ),
    flush_interval: float = typer.Option(
        1.0, "--flush-interval", min=0.01, help="Seconds between prediction-log writes."
    ),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log predictions."),
    header_timeout: float = typer.Option(
        10.0, "--header-timeout", min=0.1, help="Seconds a client has to send its headers."
    ),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1, help="Seconds a client has to send its body."
    ),
    keepalive_timeout: float = typer.Option(
        5.0, "--keepalive-timeout", min=0.1, help="Seconds an idle connection stays open."
    ),
    max_connections: int = typer.Option(
        2048,
        "--max-connections",
        min=1,
        help="Open connections per process; past it the longest-stalled one is closed.",
    ),
    rate_limit: float | None = typer.Option(
        None,
        "--rate-limit",
        min=0.001,
        help="Requests a second per client address; 429 past it. Default: off.",
    ),
    rate_burst: int | None = typer.Option(
        None, "--rate-burst", min=1, help="Requests a client may send at once (default: 1 s)."
    ),
    max_batch: int = typer.Option(
        1,
        "--max-batch",
        min=1,
        help="Neural models: score up to this many rows of concurrent requests together.",
    ),
    max_wait_ms: float = typer.Option(
        2.0, "--max-wait-ms", min=0.0, help="Neural models: how long a batch waits to fill."
    ),
    trust_code: bool = typer.Option(
        False,
        "--trust-code",
        help="Admit the code the served version holds (Keras Lambda layers, .h5); audited.",
    ),
    trust_reason: str | None = typer.Option(
        None, "--trust-reason", help="With --trust-code: why (kept in the audit trail)."
    ),
) -> None:
    """Serve a model over HTTP: POST /predict, POST /feedback, GET /metrics, GET /docs.

    Requests are checked against the version's input signature, every prediction is
    logged, and the server switches versions when the alias moves. The same server also
    speaks the Open Inference Protocol (/v2/...) and MLflow's scoring protocol
    (/invocations); --profile adds a platform's routes. Set FORGEML_API_KEY to require a
    key on the scoring routes and /feedback, and FORGEML_ADMIN_KEY to enable the admin
    endpoints (reload, rollout).
    """
    from forgeml.errors import ConfigError
    from forgeml.serve.protocols.profiles import container_arguments, resolve_profile

    rest = list(command or [])
    if model == "serve":  # `docker run IMAGE serve [MODEL]`
        model, rest = (rest[0], rest[1:]) if rest else (None, rest)
    try:
        container_arguments(rest)
        platform = resolve_profile(profile) if profile else None
    except ConfigError as error:
        raise typer.BadParameter(f"{error.message}; {error.fix}") from None
    if platform is not None:
        host = host or platform.host
        port = port or platform.port
        max_body = max_body or platform.max_body_bytes
        if model is None and model_dir is None:
            model_dir = platform.model_dir  # where the platform puts the model
    if out_of_range not in ("flag", "refuse"):
        raise typer.BadParameter("use 'flag' or 'refuse'", param_hint="--out-of-range")
    if trust_reason is not None and not trust_code:
        raise typer.BadParameter("only with --trust-code", param_hint="--trust-reason")
    if model_dir is not None and trust_code:
        raise typer.BadParameter(
            "trusting a model's code is recorded in a project's audit trail; serve "
            "the model from its project (forgeml serve MODEL --trust-code)",
            param_hint="--trust-code",
        )
    if model_dir is not None and model is not None:
        raise typer.BadParameter("pass a model or --model-dir, not both", param_hint="MODEL")
    if model_dir is None and model is None:
        raise typer.BadParameter("name the model to serve, or pass --model-dir DIR")
    if model_dir is None and log_dir is not None:
        raise typer.BadParameter("only with --model-dir", param_hint="--log-dir")
    from forgeml.serve.server import ServeSettings, run_server

    host, port = host or "127.0.0.1", port or 8000
    trusted: tuple[str, ...] = ()
    if model_dir is not None:
        from forgeml.artifacts.urls import redact_url
        from forgeml.registry.directory import read_model_dir
        from forgeml.registry.remote_dir import fetch_model_dir, local_location

        if local_location(model_dir) is None:  # e.g. Vertex AI's AIP_STORAGE_URI=gs://...
            console.print(f"fetching the model from {redact_url(model_dir)}", markup=False)
            model_dir = str(fetch_model_dir(model_dir))
        found = read_model_dir(model_dir)  # fails fast and clearly
        what: dict[str, Any] = {
            "model_dir": str(found.path.resolve()),
            "log_dir": None if no_log else log_dir,
        }
        serving = f"{found.ref} from {found.path}"
    else:
        from forgeml.registry import model_version

        project = state(ctx).project()
        version = model_version(f"{model}@{alias}", project=project)  # fails fast and clearly
        what = {"project": str(project.root), "model": model, "alias": alias}
        serving = f"{version.ref} ({alias})"
        if trust_code:
            trusted = _grant_trust(version, trust_reason, project)
    settings = ServeSettings(
        out_of_range="refuse" if out_of_range == "refuse" else "flag",
        max_rows=max_rows,
        max_body_bytes=max_body or 1 << 20,
        reload_interval=reload_interval,
        log_predictions=not no_log,
        flush_interval=flush_interval,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        keepalive_timeout=keepalive_timeout,
        max_connections=max_connections,
        rate_limit=rate_limit,
        rate_burst=rate_burst,
        profile=profile,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        trusted=trusted,
        **what,
    )
    console.print(
        f"serving {serving} on http://{host}:{port} with {workers} "
        f"worker{'s' if workers > 1 else ''}; API docs at /docs"
    )
    if settings.model_dir is not None:
        console.print(_describe_logging(settings.log_dir))
    if platform is not None:
        console.print(
            f"{platform.platform} profile: GET {platform.health_route}, "
            f"POST {platform.predict_route}; model location {platform.model_dir or '(unset)'}"
        )
    run_server(settings, host=host, port=port, workers=workers)


def _describe_logging(log_dir: str | None) -> str:
    """The line a model-directory server prints about its prediction log."""
    if log_dir is None:
        return "prediction log: off (pass --log-dir FOLDER to keep predictions)"
    folder = Path(log_dir).resolve()
    return f"prediction log: {folder} (read it with 'forgeml --project {folder} monitor')"


@rollout_app.command("start")
def rollout_start(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The challenger, e.g. credit@4."),
    mode: str = typer.Option(..., "--mode", "-m", help="shadow or canary."),
    share: float = typer.Option(0.1, "--share", help="Canary's share of requests (0-1)."),
    key: str | None = typer.Option(None, "--key", help="Input that makes the canary sticky."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the audit)."),
) -> None:
    """Start a shadow or canary of a version; running servers pick it up in a second."""
    from forgeml.serve.rollout import start_rollout

    rollout = start_rollout(
        ref, mode=mode, share=share, key=key, reason=reason, project=state(ctx).project()
    )
    console.print(f"started: {rollout.describe()}")


@rollout_app.command("stop")
def rollout_stop(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model whose rollout ends."),
    promote: bool = typer.Option(False, "--promote", help="Also promote the challenger."),
    alias: str = typer.Option("champion", "--alias", "-a", help="The alias --promote moves."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (kept in the audit)."),
) -> None:
    """End the model's rollout; with --promote the challenger takes the alias."""
    from forgeml.registry import promote as promote_version
    from forgeml.serve.rollout import active_rollout, end_rollout

    project = state(ctx).project()
    current = active_rollout(project, model)
    if current is None:
        console.print(f"model '{model}' has no rollout running")
        return
    if promote:
        promote_version(f"{model}@{current.version}", alias=alias, reason=reason, project=project)
    ended = end_rollout(
        model, outcome="promoted" if promote else "stopped", reason=reason, project=project
    )
    if ended is not None:
        console.print(f"{rollout_sentence(ended.status)}: {ended.describe()}")


@rollout_app.command("status")
def rollout_status(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model."),
) -> None:
    """The model's rollouts, newest first; for the running one, each arm's numbers so far."""
    from forgeml.serve.rollout import rollout_history

    project = state(ctx).project()
    rows = rollout_history(model, project=project)
    if not rows:
        console.print(f"model '{model}' has had no rollouts")
        return
    table = Table("version", "mode", "share", "key", "status", "started by", "reason")
    for r in rows:
        add_row(
            table,
            f"@{r.version}",
            r.mode,
            f"{r.share:.0%}" if r.mode == "canary" else "-",
            r.key or "-",
            rollout_sentence(r.status),
            r.started_by,
            r.end_reason or r.reason,
        )
    console.print(table)
    _arms_so_far(project, model)


def _arms_so_far(project: Any, model: str) -> None:
    """Per arm of the running rollout: predictions, labelled ones, the metric and its interval."""
    from forgeml.loop.rollouts import rollout_progress

    found = rollout_progress(project, model)
    if found is None:
        return
    rollout, arms = found
    needed = project.spec.policy.rollout.predictions
    metric = arms[0].metric
    table = Table(
        "arm",
        "version",
        "predictions",
        "labelled",
        metric,
        "95% interval",
        title=f"so far ({rollout.mode} of @{rollout.version}; it is decided at {needed:,} "
        "labelled predictions in its arm)",
        title_justify="left",
    )
    for arm in arms:
        interval = "-" if arm.low is None else f"{arm.low:.4f} to {arm.high:.4f}"
        add_row(
            table,
            arm.arm,
            f"@{arm.version}",
            f"{arm.predictions:,}",
            f"{arm.labelled:,}",
            "-" if arm.value is None else f"{arm.value:.4f}",
            interval,
        )
    console.print(table)


def _grant_trust(version: Any, reason: str | None, project: Any) -> tuple[str, ...]:
    """Record the user's trust in ``version``'s code; the bundle ids the server may admit."""
    from forgeml.errors import ForgemlError
    from forgeml.registry.code_trust import trust_code as grant_trust

    try:
        event = grant_trust(version.ref, reason=reason or "", action="serve", project=project)
    except ForgemlError as error:
        raise typer.BadParameter(f"{error.message}; {error.fix}") from None
    admitted = ", ".join(event.admitted) or "nothing that runs code"
    console.print(f"trusting the code in {version.ref}: {admitted} (recorded)")
    return (version.artifact_sha256,)
