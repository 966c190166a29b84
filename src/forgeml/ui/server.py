"""Run the UI under uvicorn (one process: pages are small and rendered in threads)."""

from __future__ import annotations

import os

from forgeml.project import Project
from forgeml.serve.server import check_port
from forgeml.ui.app import UIApp

__all__ = ["ENV_ADMIN_KEY", "run_ui"]

ENV_ADMIN_KEY = "FORGEML_ADMIN_KEY"


def run_ui(project: Project, *, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the UI of ``project`` until interrupted; actions are on when the environment
    holds an admin key (:data:`ENV_ADMIN_KEY`)."""
    import uvicorn

    check_port(host, port)
    app = UIApp(project, admin_key=os.environ.get(ENV_ADMIN_KEY) or None)
    uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on", ws="none")
