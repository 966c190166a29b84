"""Declared passthrough fields travel with a request to the log and the reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.predlog import PredictionLog, read_predictions
from serve.asgi import InProcessClient
from serve.serving import credit_table, record, register

GOOD = record(credit_table(rows=5), 0)
SPEC = "project: passthrough\nserve:\n  passthrough: [customer_id, note]\n"


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "forgeml.yaml").write_text(SPEC)
    project = Project.init(root)
    register(project)
    yield project
    project.close()


def _serve(project: Project) -> tuple[ModelServer, InProcessClient]:
    deployment = Deployment(project, "credit")  # passthrough fields from the spec
    deployment.refresh()
    assert deployment.serving is not None
    log = PredictionLog(project, "credit", deployment.serving.champion.schema.inputs)
    app = ModelServer(deployment, options=ServeOptions(freeze_gc=False), prediction_log=log)
    return app, InProcessClient(app)


def test_declared_fields_reach_the_reply_and_the_log(declared: Project) -> None:
    app, client = _serve(declared)
    status, one, _ = client.post("/predict", {**GOOD, "customer_id": "c-17"})
    assert status == 200, one
    assert one["passthrough"] == {"customer_id": ["c-17"]}
    rows = [{**GOOD, "customer_id": 5, "note": "naïve ☃"}, GOOD]
    status, many, _ = client.post("/predict", rows)
    assert status == 200 and many["passthrough"] == {
        "customer_id": [5, None],
        "note": ["naïve ☃", None],
    }
    columns = {"columns": {**{k: [v] for k, v in GOOD.items()}, "customer_id": ["c-9"]}}
    status, body, _ = client.post("/predict", columns)
    assert status == 200 and body["passthrough"] == {"customer_id": ["c-9"]}
    status, plain, _ = client.post("/predict", GOOD)
    assert status == 200 and "passthrough" not in plain
    client.close()
    assert app.log is not None
    app.log.close()
    logged = read_predictions(declared, "credit", columns=["request_id", "customer_id", "note"])
    by_id = {r["request_id"]: (r["customer_id"], r["note"]) for r in logged.to_pylist()}
    assert by_id[one["request_id"]] == ("c-17", None)
    assert by_id[many["ids"][0]] == ("5", "naïve ☃")
    assert by_id[many["ids"][1]] == (None, None)
    assert by_id[plain["request_id"]] == (None, None)


def test_undeclared_and_unusable_extras_are_refused(declared: Project) -> None:
    app, client = _serve(declared)
    status, body, _ = client.post("/predict", {**GOOD, "customer_id": "c1", "secret": 1})
    assert status == 422
    assert body["problems"][0]["field"] == "secret"
    assert "serve.passthrough" in body["problems"][0]["problem"]
    status, body, _ = client.post("/predict", {**GOOD, "customer_id": {"nested": 1}})
    assert status == 422 and body["problems"][0]["field"] == "customer_id"
    assert "string, number, boolean or null" in body["problems"][0]["problem"]
    client.close()
    assert app.log is not None
    app.log.close()


def test_without_a_declaration_extras_stay_refused(sqlite_project: Project) -> None:
    register(sqlite_project)
    app, client = _serve(sqlite_project)
    status, body, _ = client.post("/predict", {**GOOD, "customer_id": "c1"})
    assert status == 422 and body["problems"][0]["field"] == "customer_id"
    assert "not an input of this model" in body["problems"][0]["problem"]
    client.close()
    assert app.log is not None
    app.log.close()


def test_the_api_document_declares_the_passthrough_fields(declared: Project) -> None:
    app, client = _serve(declared)
    status, document, _ = client.get("/openapi.json")
    assert status == 200
    record = document["components"]["schemas"]["Record"]
    assert "customer_id" in record["properties"] and "customer_id" not in record["required"]
    assert "passthrough" in document["components"]["schemas"]["Predictions"]["properties"]
    client.close()
    assert app.log is not None
    app.log.close()
