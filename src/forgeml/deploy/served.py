"""Serving a model directory: the same app, scorer and checks, no metadata store needed.

:class:`DirectoryDeployment` is a :class:`~forgeml.serve.deployment.Deployment` whose one
version comes from a model directory (:mod:`forgeml.deploy.modeldir`) instead of an alias
in a project: it is loaded, answers the example rows through the scorer that will answer
requests, and never switches. Predictions are logged to a local folder (a project of its
own, which ``forgeml --project FOLDER monitor`` reads) or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from forgeml.deploy.modeldir import load_model_dir, read_model_dir
from forgeml.errors import ConfigError, ModelCannotPredict
from forgeml.project import Project
from forgeml.registry.libraries import score_only
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.connections import ConnectionLimits, configure
from forgeml.serve.deployment import Deployment, Serving
from forgeml.serve.inputs import OutOfRange
from forgeml.serve.predlog import PredictionLog
from forgeml.serve.protocols.profiles import resolve_profile
from forgeml.serve.server import (
    ServeSettings,
    _log_to_stderr,
    check_port,
    die_with_parent,
    uvicorn_options,
)
from forgeml.serve.threads import pin_native_threads

__all__ = [
    "DirServeSettings",
    "DirectoryDeployment",
    "build_dir_app",
    "create_dir_app",
    "describe_logging",
    "log_project",
    "run_dir_server",
]

ENV = "FORGEML_SERVE_DIR"

log = logging.getLogger("forgeml.serve")


class DirectoryDeployment(Deployment):
    """The one version a model directory holds, checked once, never switched."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        project: Project | None = None,
        out_of_range: OutOfRange = "flag",
        max_rows: int = 10_000,
    ) -> None:
        found = read_model_dir(model_dir)  # a missing or damaged folder fails here
        self.model_dir = Path(model_dir)
        # the log's project, when predictions are logged: no alias or rollout lives there
        super().__init__(
            cast(Project, project),
            found.name,
            alias=f"v{found.manifest['version']}",
            out_of_range=out_of_range,
            max_rows=max_rows,
            passthrough=(),
        )

    def refresh(self) -> bool:
        with self._lock:
            if self.serving is not None:
                return False
            version, bundle = load_model_dir(self.model_dir)
            scorer = self._answering(version, bundle)
            self.serving = Serving(scorer, None, None, time.time())
        if self.on_switch is not None:
            self.on_switch(self.serving)
        return True

    def load(self) -> bool:
        try:
            return self.refresh()
        except ModelCannotPredict as error:
            self._remember(error.message)
            return False

    def watch(self, interval: float = 1.0) -> None:
        """Nothing to watch: a model directory holds one immutable version."""


def log_project(folder: str | os.PathLike[str], model: str) -> Project:
    """The project predictions are logged to: ``folder``'s, created on first use."""
    return Project.init(folder, name=f"{model}-predictions")


@dataclass(frozen=True)
class DirServeSettings:
    """What a server process for a model directory needs (safe to pass in the environment)."""

    model_dir: str
    log_dir: str | None = None
    out_of_range: OutOfRange = "flag"
    max_rows: int = 10_000
    max_body_bytes: int = 1 << 20
    flush_interval: float = 1.0
    rate_limit: float | None = None
    rate_burst: int | None = None
    profile: str | None = None  # a platform profile (forgeml.serve.protocols.profiles)
    drain_timeout: float = ServeSettings.drain_timeout
    limits: dict[str, float] = field(default_factory=dict)

    def connection_limits(self) -> ConnectionLimits:
        return ConnectionLimits(**self.limits)  # type: ignore[arg-type]


def build_dir_app(settings: DirServeSettings) -> ModelServer:
    """The app serving ``settings.model_dir``, its model loaded and checked."""
    project = None
    if settings.log_dir is not None:
        project = log_project(settings.log_dir, read_model_dir(settings.model_dir).name)
    deployment = DirectoryDeployment(
        settings.model_dir,
        project=project,
        out_of_range=settings.out_of_range,
        max_rows=settings.max_rows,
    )
    deployment.load()
    pin_native_threads()
    prediction_log = None
    serving = deployment.serving
    if project is not None:
        prediction_log = PredictionLog(
            project,
            deployment.model,
            serving.champion.schema.inputs if serving is not None else [],
            flush_interval=settings.flush_interval,
        )
    options = ServeOptions(
        api_key=os.environ.get("FORGEML_API_KEY") or None,
        admin_key=None,  # no alias or rollout to move: a directory holds one version
        feedback_key=os.environ.get("FORGEML_FEEDBACK_KEY") or None,
        max_body_bytes=settings.max_body_bytes,
        rate_limit=settings.rate_limit,
        rate_burst=settings.rate_burst,
        profile=resolve_profile(settings.profile) if settings.profile else None,
    )
    return ModelServer(deployment, options=options, prediction_log=prediction_log)


def create_dir_app() -> ModelServer:
    """uvicorn's factory for worker processes: settings from ``FORGEML_SERVE_DIR``."""
    raw = os.environ.get(ENV)
    if not raw:
        raise ConfigError(f"{ENV} is not set", fix="start servers with 'forgeml serve --model-dir'")
    die_with_parent()
    settings = DirServeSettings(**json.loads(raw))
    score_only()
    _log_to_stderr()
    configure(settings.connection_limits())
    return build_dir_app(settings)


def run_dir_server(
    settings: DirServeSettings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Serve a model directory until interrupted (the prediction log is flushed on exit)."""
    import uvicorn

    check_port(host, port)
    _log_to_stderr()
    limits = configure(settings.connection_limits())
    common = uvicorn_options(limits, host, port, drain_timeout=settings.drain_timeout)
    if workers > 1:
        os.environ[ENV] = json.dumps(asdict(settings))
        target = "forgeml.deploy.served:create_dir_app"
        uvicorn.run(target, factory=True, workers=workers, **common)
        return
    score_only()  # this process only scores: no scikit-learn wrappers for the boosters
    uvicorn.run(build_dir_app(settings), **common)


def describe_logging(log_dir: Any) -> str:
    """The line a server prints about its prediction log."""
    if log_dir is None:
        return "prediction log: off (pass --log-dir FOLDER to keep predictions)"
    folder = Path(log_dir).resolve()
    return f"prediction log: {folder} (read it with 'forgeml --project {folder} monitor')"
