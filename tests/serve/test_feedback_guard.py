"""POST /feedback cannot be poisoned: JSON only, same site, its own key, first label wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.feedback import label_conflicts, read_feedback
from forgeml.serve.predlog import PredictionLog
from serve.asgi import InProcessClient
from serve.serving import credit_table, record, register

GOOD = record(credit_table(rows=5), 0)


def _server(project: Project, options: ServeOptions) -> tuple[ModelServer, InProcessClient]:
    register(project, flavor="lightgbm")
    deployment = Deployment(project, "credit")
    deployment.refresh()
    assert deployment.serving is not None
    log = PredictionLog(project, "credit", deployment.serving.champion.schema.inputs)
    app = ModelServer(deployment, options=options, prediction_log=log)
    return app, InProcessClient(app)


@pytest.fixture
def served(sqlite_project: Project) -> Iterator[tuple[ModelServer, InProcessClient]]:
    app, client = _server(sqlite_project, ServeOptions(freeze_gc=False))
    yield app, client
    client.close()
    assert app.log is not None
    app.log.close()


def test_feedback_takes_json_only(served: tuple[ModelServer, InProcessClient]) -> None:
    _, client = served
    request_id = client.post("/predict", GOOD)[1]["request_id"]
    label = {"request_id": request_id, "label": True}
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, body, _ = client.post("/feedback", label, headers={"content-type": kind})
        assert status == 415, body
        assert "application/json" in body["fix"]
    status, body, _ = client.post(
        "/feedback", label, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert status == 200 and body == {"accepted": 1, "conflicts": 0}


def test_cross_site_origins_are_refused_unless_listed(sqlite_project: Project) -> None:
    options = ServeOptions(freeze_gc=False, feedback_origins=("https://labels.example.com",))
    app, client = _server(sqlite_project, options)
    request_id = client.post("/predict", GOOD)[1]["request_id"]
    label = {"request_id": request_id, "label": True}
    cases = {
        "https://evil.example": 403,
        "null": 403,
        "https://labels.example.com": 200,
        "http://ml.internal:8000": 200,  # the server's own site
    }
    for origin, expected in cases.items():
        headers = {"origin": origin, "host": "ml.internal:8000"}
        status, body, _ = client.post("/feedback", label, headers=headers)
        assert status == expected, (origin, body)
        if status == 403:
            assert "serve.feedback_origins" in body["fix"]
    assert client.post("/feedback", label)[0] == 200  # no Origin: not a browser
    client.close()
    assert app.log is not None
    app.log.close()
    assert len(read_feedback(sqlite_project, "credit", every=True)) == 3


def test_a_feedback_key_opens_feedback_but_not_predictions(sqlite_project: Project) -> None:
    options = ServeOptions(freeze_gc=False, api_key="predict-key", feedback_key="label-key")
    app, client = _server(sqlite_project, options)
    status, body, _ = client.post("/predict", GOOD, headers={"x-api-key": "predict-key"})
    assert status == 200
    label = {"request_id": body["request_id"], "label": True}
    assert client.post("/predict", GOOD, headers={"x-api-key": "label-key"})[0] == 401
    assert client.post("/feedback", label)[0] == 401
    assert client.post("/feedback", label, headers={"x-api-key": "wrong"})[0] == 401
    assert client.post("/feedback", label, headers={"x-api-key": "label-key"})[0] == 200
    bearer = {"authorization": "Bearer predict-key"}
    assert client.post("/feedback", label, headers=bearer)[0] == 200
    client.close()
    assert app.log is not None
    app.log.close()


def test_the_first_label_wins_and_conflicts_are_counted(
    served: tuple[ModelServer, InProcessClient], sqlite_project: Project
) -> None:
    app, client = served
    first, second = (client.post("/predict", GOOD)[1]["request_id"] for _ in range(2))
    status, body, _ = client.post(
        "/feedback", [{"request_id": first, "label": True}, {"request_id": second, "label": False}]
    )
    assert body == {"accepted": 2, "conflicts": 0}
    status, body, _ = client.post(
        "/feedback", [{"request_id": first, "label": False}, {"request_id": second, "label": False}]
    )
    assert status == 200 and body == {"accepted": 2, "conflicts": 1}
    assert "forgeml_label_conflicts_total 1" in client.get("/metrics")[1]
    assert app.log is not None
    app.log.flush()
    labels = {
        r["request_id"]: r["label"] for r in read_feedback(sqlite_project, "credit").to_pylist()
    }
    assert labels == {first: "true", second: "false"}
    assert len(read_feedback(sqlite_project, "credit", every=True)) == 4
    assert label_conflicts(sqlite_project, "credit") == 1
