"""SageMaker's health check: ``GET /ping`` answers 503 until the model is loaded, then 200.

SageMaker sends traffic to a container only once ``/ping`` answers 200, so a server whose
model is still loading must say 503. The real app is driven through ASGI: its lifespan
start-up (what uvicorn sends when the server starts) is where it loads the model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.protocols.profiles import resolve_profile
from serve.asgi import InProcessClient
from serve.protocol_cases import credit_rows
from serve.serving import register


class Lifespan:
    """The app's lifespan scope, run as uvicorn runs it: started, then later shut down."""

    def __init__(self, app: ModelServer, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.answers: list[str] = []
        self.task = loop.create_task(app({"type": "lifespan"}, self.incoming.get, self._send))

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        self.answers.append(str(message["type"]))

    def send(self, event: str) -> str:
        """Send ``lifespan.EVENT`` and wait for the app's answer to it."""
        self.incoming.put_nowait({"type": f"lifespan.{event}"})

        async def answered() -> str:
            while not any(a.startswith(f"lifespan.{event}.") for a in self.answers):
                if self.task.done():
                    self.task.result()  # raises what the app raised
                await asyncio.sleep(0.01)
            return next(a for a in self.answers if a.startswith(f"lifespan.{event}."))

        return self.loop.run_until_complete(answered())


@pytest.fixture
def sagemaker(sqlite_project: Project) -> Iterator[tuple[ModelServer, InProcessClient]]:
    """The credit model's server with the SageMaker profile, its model not loaded yet."""
    register(sqlite_project)  # credit@1, the champion
    profile = resolve_profile("sagemaker", {})
    options = ServeOptions(profile=profile, max_body_bytes=profile.max_body_bytes or 1 << 20)
    app = ModelServer(Deployment(sqlite_project, "credit"), options=options)
    client = InProcessClient(app)
    try:
        yield app, client
    finally:
        app.stop()
        client.close()


def test_ping_is_503_before_the_model_is_loaded_and_200_after(
    sagemaker: tuple[ModelServer, InProcessClient],
) -> None:
    app, client = sagemaker
    status, body, _ = client.get("/ping")
    assert status == 503
    assert body["ready"] is False and body["reason"]
    status, _, _ = client.post("/invocations", {"dataframe_records": credit_rows(2)})
    assert status == 503  # nothing is scored before the model is there

    lifespan = Lifespan(app, client.loop)  # the server starts: it loads the model
    assert lifespan.send("startup") == "lifespan.startup.complete"
    status, _, headers = client.get("/ping")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    status, body, _ = client.post("/invocations", {"dataframe_records": credit_rows(2)})
    assert status == 200, body
    assert len(body["predictions"]) == 2
    assert lifespan.send("shutdown") == "lifespan.shutdown.complete"
