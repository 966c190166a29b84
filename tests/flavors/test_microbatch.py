"""Concurrent /predict requests to a neural model are scored in shared batches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
import torch

import forgeml
from forgeml.flavors.nets import SmallCNN
from forgeml.project import Project
from forgeml.registry import promote
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.microbatch import MicroBatcher


@pytest.fixture(scope="module")
def images(byo_project: Project) -> np.ndarray:
    torch.manual_seed(0)
    found = np.random.default_rng(2).random((12, 1, 8, 8), dtype=np.float32)
    version = forgeml.log_model(
        SmallCNN(classes=4, width=4),
        name="batched",
        signature_from=found,
        task="multiclass",
        classes=["a", "b", "c", "d"],
        project=byo_project,
    )
    promote(version.ref, reason="first", project=byo_project)
    return found


def _server(project: Project, **options: Any) -> ModelServer:
    deployment = Deployment(project, "batched")
    deployment.refresh()
    return ModelServer(deployment, options=ServeOptions(freeze_gc=False, **options))


async def _post(app: ModelServer, body: Any) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(b"content-type", b"application/json")],
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(status), json.loads(payload)


def _concurrently(app: ModelServer, bodies: list[Any]) -> list[tuple[int, Any]]:
    async def main() -> list[tuple[int, Any]]:
        return list(await asyncio.gather(*(_post(app, b) for b in bodies)))

    return asyncio.run(main())


def test_concurrent_requests_share_batches_and_get_their_own_answers(
    byo_project: Project, images: np.ndarray
) -> None:
    plain = _concurrently(_server(byo_project), [{"input": [im.tolist()]} for im in images])
    app = _server(byo_project, max_batch=8, max_wait_ms=200.0)
    bodies = [{"input": [im.tolist()]} for im in images[:10]] + [
        {"input": images[10:12].tolist()},
        {"input": [[[[1.0] * 7] * 8]]},  # a wrong shape is refused before batching
    ]
    batched = _concurrently(app, bodies)
    assert [s for s, _ in batched] == [200] * 11 + [422]
    answers = [b["predictions"] for _, b in batched[:10]]
    assert answers == [b["predictions"] for _, b in plain[:10]]
    assert batched[10][1]["predictions"] == [
        plain[10][1]["predictions"][0],
        plain[11][1]["predictions"][0],
    ]
    np.testing.assert_allclose(
        [b["probabilities"][0] for _, b in batched[:10]],
        [b["probabilities"][0] for _, b in plain[:10]],
        atol=1e-6,
    )
    assert app.batcher is not None
    assert app.batcher.rows == 12 and app.batcher.batches <= 3


def test_an_error_reaches_every_caller_of_the_batch() -> None:
    def broken(x: np.ndarray) -> np.ndarray:
        raise RuntimeError("model failed")

    async def main() -> list[Any]:
        batcher = MicroBatcher(max_batch=4, max_wait=0.05)
        parts = [np.zeros((1, 2)) for _ in range(3)]
        return list(
            await asyncio.gather(
                *(batcher.submit(broken, p) for p in parts), return_exceptions=True
            )
        )

    assert [str(e) for e in asyncio.run(main())] == ["model failed"] * 3
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(max_batch=0)
