"""Build the serving app for a project and run it under uvicorn.

``forgeml serve`` loads the model before it binds the port, so a wrong name, alias or a
corrupted artifact fails at once with a clear message. The model is a project's alias, or
a model directory (``model_dir``; no project needed, see :mod:`forgeml.serve.directory`).
With ``--workers N`` uvicorn starts N processes; each builds its own app through
:func:`create_app` from the settings passed in ``FORGEML_SERVE`` (JSON, without secrets)
and reads the keys from ``FORGEML_API_KEY`` and ``FORGEML_ADMIN_KEY``. Workers end with the
process that started them, even when it is killed outright, so stopping ``forgeml serve``
leaves no process behind.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
from dataclasses import asdict, dataclass
from typing import Any

from forgeml.errors import ConfigError
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.registry.directory import read_model_dir
from forgeml.registry.libraries import score_only
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.connections import PROTOCOL, ConnectionLimits, configure
from forgeml.serve.deployment import Deployment
from forgeml.serve.directory import DirectoryDeployment, log_project
from forgeml.serve.inputs import OutOfRange
from forgeml.serve.predlog import PredictionLog
from forgeml.serve.protocols.profiles import resolve_profile
from forgeml.serve.threads import pin_native_threads

__all__ = [
    "ServeSettings",
    "build_app",
    "check_port",
    "create_app",
    "die_with_parent",
    "run_server",
    "uvicorn_options",
]

ENV = "FORGEML_SERVE"
log = logging.getLogger("forgeml.serve")


@dataclass(frozen=True)
class ServeSettings:
    """What a server process needs besides its keys (safe to pass in the environment)."""

    project: str | None = None
    model: str | None = None
    alias: str = "champion"
    out_of_range: OutOfRange = "flag"
    max_rows: int = 10_000
    max_body_bytes: int = 1 << 20
    reload_interval: float = 1.0
    log_predictions: bool = True
    flush_interval: float = 1.0
    header_timeout: float = ConnectionLimits.header_timeout
    body_timeout: float = ConnectionLimits.body_timeout
    keepalive_timeout: float = ConnectionLimits.keepalive_timeout
    max_connections: int = ConnectionLimits.max_connections
    rate_limit: float | None = None
    rate_burst: int | None = None
    profile: str | None = None
    """A platform profile (see :mod:`forgeml.serve.protocols.profiles`), read with the
    platform's environment variables in each server process."""
    drain_timeout: float = 20.0
    """Seconds a stopping server (SIGTERM) gives requests in flight before it closes them;
    the prediction log is flushed after them, well within the 30 s platforms allow."""
    max_batch: int = 1
    max_wait_ms: float = 2.0
    trusted: tuple[str, ...] = ()
    """Bundle ids whose code (Keras Lambda layers, .h5) the user trusted with
    ``--trust-code``; the grant was audited before the server started."""
    model_dir: str | None = None
    """Serve this model directory instead of a project's alias; it holds one version."""
    log_dir: str | None = None
    """With ``model_dir``: the folder predictions are logged to (None: not logged)."""

    def __post_init__(self) -> None:
        if self.model_dir is None and (self.project is None or self.model is None):
            raise ConfigError(
                "the serve settings name no model to serve",
                fix="pass project= and model=, or model_dir= (a model directory)",
            )
        if self.model_dir is not None and self.model is not None:
            raise ConfigError(
                "the serve settings name both a model and a model directory",
                fix="pass model= (with project=) or model_dir=, not both",
            )

    @property
    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
            keepalive_timeout=self.keepalive_timeout,
            max_connections=self.max_connections,
        )


def build_app(settings: ServeSettings, *, project: ProjectLike = None) -> ModelServer:
    """The app for ``settings``, with its model loaded (not yet watching or logging)."""
    if settings.trusted:
        from forgeml.registry.code_trust import grant

        grant(settings.trusted)
    deployment, logged_to, origins = _deployment(settings, project)
    deployment.load()  # a version that cannot predict leaves the server up, not ready
    pin_native_threads()  # after the model's libraries are loaded
    serving = deployment.serving
    prediction_log = None
    if logged_to is not None:
        prediction_log = PredictionLog(
            logged_to,
            deployment.model,
            serving.champion.schema.inputs if serving is not None else [],
            flush_interval=settings.flush_interval,
        )
    # a model directory holds one version: no alias or rollout for an admin to move
    admin_key = os.environ.get("FORGEML_ADMIN_KEY") if settings.model_dir is None else None
    options = ServeOptions(
        api_key=os.environ.get("FORGEML_API_KEY") or None,
        admin_key=admin_key or None,
        feedback_key=os.environ.get("FORGEML_FEEDBACK_KEY") or None,
        feedback_origins=origins,
        max_body_bytes=settings.max_body_bytes,
        reload_interval=settings.reload_interval,
        rate_limit=settings.rate_limit,
        rate_burst=settings.rate_burst,
        profile=resolve_profile(settings.profile) if settings.profile else None,
        max_batch=settings.max_batch,
        max_wait_ms=settings.max_wait_ms,
    )
    return ModelServer(deployment, options=options, prediction_log=prediction_log)


def _deployment(
    settings: ServeSettings, project: ProjectLike
) -> tuple[Deployment, Project | None, tuple[str, ...]]:
    """What ``settings`` serve, the project predictions are logged to, feedback origins."""
    if settings.model_dir is not None:
        logged_to = None
        if settings.log_dir is not None and settings.log_predictions:
            name = read_model_dir(settings.model_dir).name
            logged_to = log_project(settings.log_dir, name)
        directory = DirectoryDeployment(
            settings.model_dir,
            project=logged_to,
            out_of_range=settings.out_of_range,
            max_rows=settings.max_rows,
        )
        return directory, logged_to, ()
    found = resolve_project(project if project is not None else settings.project)
    deployment = Deployment(
        found,
        str(settings.model),
        alias=settings.alias,
        out_of_range=settings.out_of_range,
        max_rows=settings.max_rows,
    )
    logged_to = found if settings.log_predictions else None
    return deployment, logged_to, tuple(found.spec.serve.feedback_origins)


def create_app() -> ModelServer:
    """uvicorn's factory for worker processes: settings from ``FORGEML_SERVE``."""
    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(
            f"{ENV} is not set",
            fix="start servers with 'forgeml serve MODEL' or 'forgeml serve --model-dir DIR'",
        )
    die_with_parent()
    settings = ServeSettings(**json.loads(raw))
    score_only()
    _log_to_stderr()
    configure(settings.limits)
    return build_app(settings)


def run_server(
    settings: ServeSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    access_log: bool = False,
) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM flush the prediction log, then exit)."""
    import uvicorn

    check_port(host, port)
    _log_to_stderr()
    common = uvicorn_options(
        configure(settings.limits),
        host,
        port,
        access_log=access_log,
        drain_timeout=settings.drain_timeout,
    )
    if workers > 1:
        os.environ[ENV] = json.dumps(asdict(settings))
        uvicorn.run("forgeml.serve.server:create_app", factory=True, workers=workers, **common)
        return
    score_only()  # this process only scores: no scikit-learn wrappers for the boosters
    app = build_app(settings)
    uvicorn.run(app, **common)


def uvicorn_options(
    limits: ConnectionLimits,
    host: str,
    port: int,
    *,
    access_log: bool = False,
    drain_timeout: float = ServeSettings.drain_timeout,
) -> dict[str, Any]:
    """uvicorn's settings for a forgeml server (protocol, loop, timeouts).

    ``drain_timeout``: seconds a stopping server lets requests in flight finish.
    """
    return {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "lifespan": "on",
        "http": PROTOCOL,
        "ws": "none",
        "loop": "uvloop" if _has_uvloop() else "asyncio",
        "timeout_keep_alive": limits.keepalive_timeout,
        "timeout_graceful_shutdown": max(1, round(drain_timeout)),
    }


def check_port(host: str, port: int) -> None:
    """A clear error when ``host:port`` cannot be bound (in use, or not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is in use",
                    fix="pass --port with a free port, or stop the other process",
                ) from None
            raise ConfigError(
                f"cannot listen on {host}:{port}: {error.strerror}",
                fix="pass --host with an address of this machine (127.0.0.1 or 0.0.0.0)",
            ) from None


def die_with_parent() -> None:
    """Have the kernel stop this worker when the process that started it ends (Linux)."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent.pid:  # the parent ended before the line above
        raise SystemExit(0)


def _log_to_stderr() -> None:
    """Show the server's own lines (e.g. each version switch) beside uvicorn's."""
    logger = logging.getLogger("forgeml.serve")
    if any(getattr(h, "forgeml_serve", False) for h in logger.handlers):
        return
    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False))
    handler.forgeml_serve = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
