"""Serving a model directory: the same app, scorer and checks, no metadata store needed.

:class:`DirectoryDeployment` is a :class:`~forgeml.serve.deployment.Deployment` whose one
version comes from a model directory (:mod:`forgeml.registry.directory`) instead of an alias
in a project: it is loaded, answers the example rows through the scorer that will answer
requests, and never switches. Predictions are logged to a local folder (a project of its
own, which ``forgeml --project FOLDER monitor`` reads) or not at all.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import cast

from forgeml.errors import ModelCannotPredict
from forgeml.project import Project
from forgeml.registry.directory import load_model_dir, read_model_dir
from forgeml.serve.deployment import Deployment, Serving
from forgeml.serve.inputs import OutOfRange

__all__ = ["DirectoryDeployment", "log_project"]


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
