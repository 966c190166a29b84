"""The UI on a real uvicorn server in a thread, on a free localhost port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from forgeml.project import Project
from forgeml.ui.app import UIApp
from support import scaled


@contextmanager
def live_ui(project: Project, admin_key: str | None) -> Iterator[str]:
    """The base URL of a running UI until the block ends."""
    import uvicorn

    app = UIApp(project, admin_key=admin_key)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + scaled(60)
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the UI test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=scaled(30))
