"""/ready means the served version has answered the example rows, not that a file loaded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from dataclasses import replace
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from forgeml.errors import ModelCannotPredict
from forgeml.project import Project
from forgeml.registry import save_bundle
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.server import ServeSettings, build_app
from registry.gadgets import plant_version
from serve.serving import credit_table, fit_bundle, record, register


async def _call(app: ModelServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    sent: list[MutableMapping[str, Any]] = []
    data = b"" if body is None else json.dumps(body).encode()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(payload)


def _unfitted_champion(project: Project) -> int:
    """A version that slipped past registration (written straight to the store)."""
    bundle, signature = fit_bundle(credit_table(200), flavor="sklearn")
    sha = save_bundle(replace(bundle, estimator=LogisticRegression()), project.artifacts)
    return plant_version(project, "credit", sha, signature, alias="champion")


def test_a_version_that_cannot_predict_leaves_the_server_unready_saying_why(
    sqlite_project: Project,
) -> None:
    number = _unfitted_champion(sqlite_project)
    settings = ServeSettings(project=str(sqlite_project.root), model="credit", reload_interval=60)
    app = build_app(settings, project=sqlite_project)  # what 'forgeml serve' runs
    app.options = replace(app.options, freeze_gc=False)
    app.start()  # does not raise: the server stays up, not ready
    try:
        status, body = asyncio.run(_call(app, "GET", "/ready"))
        assert status == 503
        assert body["ready"] is False
        assert f"credit@{number} cannot predict on example rows" in body["reason"]
        status, body = asyncio.run(_call(app, "POST", "/predict", record(credit_table(10))))
        assert status == 503
        assert f"credit@{number} cannot predict on example rows" in body["error"]
        assert body["fix"] == "see GET /ready"
    finally:
        app.stop()


def test_a_served_version_answers_the_example_rows_before_ready(sqlite_project: Project) -> None:
    register(sqlite_project)
    app = ModelServer(
        Deployment(sqlite_project, "credit"),
        options=ServeOptions(reload_interval=60.0, freeze_gc=False),
    )
    app.start()
    try:
        status, body = asyncio.run(_call(app, "GET", "/ready"))
        assert (status, body["ready"], body["version"]) == (200, True, 1)
        status, body = asyncio.run(_call(app, "POST", "/predict", record(credit_table(10))))
        assert status == 200
    finally:
        app.stop()


def test_a_reload_to_a_version_that_cannot_predict_keeps_the_current_one(
    sqlite_project: Project,
) -> None:
    register(sqlite_project)
    deployment = Deployment(sqlite_project, "credit")
    deployment.refresh()
    bad = _unfitted_champion(sqlite_project)
    with pytest.raises(ModelCannotPredict, match=f"credit@{bad} cannot predict"):
        deployment.refresh()
    assert deployment.serving is not None
    assert deployment.serving.champion.number == 1
