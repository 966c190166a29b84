"""Build the serving app for a project and run it under uvicorn.

``forgeml serve`` loads the model before it binds the port, so a wrong name, alias or a
corrupted artifact fails at once with a clear message. With ``--workers N`` uvicorn starts
N processes; each builds its own app through :func:`create_app` from the settings passed in
``FORGEML_SERVE`` (JSON, without secrets) and reads the keys from ``FORGEML_API_KEY`` and
``FORGEML_ADMIN_KEY``.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from typing import Any

from forgeml.errors import ConfigError
from forgeml.project import ProjectLike, resolve_project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.inputs import OutOfRange
from forgeml.serve.predlog import PredictionLog
from forgeml.serve.threads import pin_native_threads

__all__ = ["ServeSettings", "build_app", "create_app", "run_server"]

ENV = "FORGEML_SERVE"
log = logging.getLogger("forgeml.serve")


@dataclass(frozen=True)
class ServeSettings:
    """What a server process needs besides its keys (safe to pass in the environment)."""

    project: str
    model: str
    alias: str = "champion"
    out_of_range: OutOfRange = "flag"
    max_rows: int = 10_000
    max_body_bytes: int = 1 << 20
    reload_interval: float = 1.0
    log_predictions: bool = True
    flush_interval: float = 1.0


def build_app(settings: ServeSettings, *, project: ProjectLike = None) -> ModelServer:
    """The app for ``settings``, with its model loaded (not yet watching or logging)."""
    found = resolve_project(project if project is not None else settings.project)
    deployment = Deployment(
        found,
        settings.model,
        alias=settings.alias,
        out_of_range=settings.out_of_range,
        max_rows=settings.max_rows,
    )
    deployment.refresh()
    pin_native_threads()  # after the model's libraries are loaded
    serving = deployment.serving
    assert serving is not None
    prediction_log = None
    if settings.log_predictions:
        prediction_log = PredictionLog(
            found,
            settings.model,
            serving.champion.schema.inputs,
            flush_interval=settings.flush_interval,
        )
    options = ServeOptions(
        api_key=os.environ.get("FORGEML_API_KEY") or None,
        admin_key=os.environ.get("FORGEML_ADMIN_KEY") or None,
        max_body_bytes=settings.max_body_bytes,
        reload_interval=settings.reload_interval,
    )
    return ModelServer(deployment, options=options, prediction_log=prediction_log)


def create_app() -> ModelServer:
    """uvicorn's factory for worker processes: settings from ``FORGEML_SERVE``."""
    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(f"{ENV} is not set", fix="start servers with 'forgeml serve MODEL'")
    return build_app(ServeSettings(**json.loads(raw)))


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

    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,
        "lifespan": "on",
        "http": "httptools",
        "loop": "uvloop" if _has_uvloop() else "asyncio",
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        os.environ[ENV] = json.dumps(asdict(settings))
        uvicorn.run("forgeml.serve.server:create_app", factory=True, workers=workers, **common)
        return
    app = build_app(settings)
    uvicorn.run(app, **common)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
