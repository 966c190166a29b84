"""The HTTP server end to end: a real uvicorn on localhost, real registered models."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np
import pytest

from forgeml.project import Project
from forgeml.registry import load_model, promote, rollback
from forgeml.serve.app import ServeOptions
from forgeml.serve.predlog import labelled_predictions, read_predictions
from forgeml.serve.rollout import end_rollout, start_rollout
from forgeml.training.predict import Predictor
from serve.serving import credit_table, live_server, record, register

SENTINEL = "zz-secret-value-zz"


@pytest.fixture
def lightgbm_project(sqlite_project: Project) -> Project:
    register(sqlite_project, flavor="lightgbm")
    return sqlite_project


def _expected(project: Project, ref: str, rows: list[dict]) -> np.ndarray:
    _, bundle = load_model(ref, project=project)
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    return Predictor(bundle).scores(columns)


@pytest.mark.parametrize(
    ("flavor", "task"),
    [
        ("lightgbm", "binary"),
        ("sklearn", "binary"),
        ("lightgbm", "multiclass"),
        ("sklearn", "multiclass"),
        ("lightgbm", "regression"),
        ("sklearn", "regression"),
    ],
)
def test_predictions_match_the_stored_model_in_every_payload_shape(
    sqlite_project: Project, flavor: str, task: str
) -> None:
    register(sqlite_project, flavor=flavor, task=task)
    table = credit_table(rows=40, seed=5)
    rows = [record(table, i) for i in range(40)]
    expected = _expected(sqlite_project, "credit@1", rows)
    with live_server(sqlite_project, log=False) as (_, client):
        singles = []
        for row in rows[:10]:
            status, body, headers = client.post("/predict", row)
            assert status == 200, body
            assert body["version"] == 1 and body["model"] == "credit"
            assert headers["x-request-id"] == body["request_id"]
            singles.append(body)
        columns = {name: [r[name] for r in rows] for name in rows[0]}
        batches = [
            client.post("/predict", rows)[1],
            client.post("/predict", {"records": rows})[1],
            client.post("/predict", {"columns": columns})[1],
        ]
    for batch in batches:
        assert len(batch["ids"]) == 40 and batch["ids"][0] == f"{batch['request_id']}:0"
    if task == "regression":
        got = [b["predictions"][0] for b in singles]
        np.testing.assert_allclose(got, expected[:10], atol=1e-9)
        for batch in batches:
            np.testing.assert_allclose(batch["predictions"], expected, atol=1e-9)
    elif task == "binary":
        np.testing.assert_allclose([b["scores"][0] for b in singles], expected[:10], atol=1e-9)
        for batch in batches:
            np.testing.assert_allclose(batch["scores"], expected, atol=1e-9)
            assert batch["predictions"] == [bool(p >= 0.5) for p in expected]
    else:
        classes = ["high", "low", "mid"]
        for batch in batches:
            np.testing.assert_allclose(batch["probabilities"], expected, atol=1e-9)
            assert batch["predictions"] == [classes[i] for i in expected.argmax(axis=1)]


def test_bad_requests_get_clear_errors_without_echoing_the_input(
    lightgbm_project: Project,
) -> None:
    good = record(credit_table(rows=5), 0)
    cases = [
        ({**good, "income": SENTINEL}, 422, "income", "expected a number, got string"),
        ({**good, "age": None}, 422, "age", "is null"),
        ({**good, "opened": SENTINEL}, 422, "opened", "ISO 8601"),
        ({**good, "paperless": "yes" + SENTINEL}, 422, "paperless", "true or false"),
        ({k: v for k, v in good.items() if k != "plan"}, 422, "plan", "is missing"),
        ({**good, SENTINEL: 1}, 422, SENTINEL, "not an input"),
        ([], 422, "(payload)", "no rows"),
        (SENTINEL, 422, "(payload)", "JSON string"),
        ([good, 5], 422, "(record)", "must be an object"),
        ({"columns": {**{k: [v] for k, v in good.items()}, "age": [1, 2]}}, 422, "columns", "len"),
    ]
    with live_server(lightgbm_project, log=False) as (app, client):
        for payload, status, field, words in cases:
            got, body, _ = client.post("/predict", payload)
            assert got == status, (payload, body)
            fields = [p["field"] for p in body["problems"]]
            assert any(field[:60] in f for f in fields), body
            assert any(words in p["problem"] for p in body["problems"]), body
            text = str({k: v for k, v in body.items() if k != "problems"}) + str(
                [p["problem"] for p in body["problems"]]
            )
            assert SENTINEL not in text
        status, body, _ = client.post("/predict", raw=b'{"income": NaN}')
        assert status == 400 and body["error"] == "malformed JSON"
        status, body, _ = client.post("/predict", raw=b"x" * (2 << 20))
        assert status == 413
        status, body, _ = client.post("/predict", [good] * 10_001)
        assert status == 413
        assert client.get("/nope")[0] == 404
        assert client.get("/predict")[0] == 405
        status, body, _ = client.post("/predict", good)  # still serving
        assert status == 200
    assert app.metrics.requests[("/predict", 422)] == len(cases)


def test_out_of_range_and_unseen_categories_are_flagged_or_refused(
    lightgbm_project: Project,
) -> None:
    odd = {**record(credit_table(rows=5), 0), "income": 1e12, "plan": "platinum"}
    with live_server(lightgbm_project, log=False) as (app, client):
        status, body, _ = client.post("/predict", odd)
        assert status == 200
        flagged = {w["field"]: w["problem"] for w in body["warnings"]}
        assert "training range" in flagged["income"] and "never seen" in flagged["plan"]
        assert app.metrics.flags["plan:unseen_category"] == 1
    with live_server(lightgbm_project, log=False, out_of_range="refuse") as (_, client):
        status, body, _ = client.post("/predict", odd)
        assert status == 422 and body["problems"][0]["field"] == "income"


def test_information_routes(lightgbm_project: Project) -> None:
    with live_server(lightgbm_project) as (_, client):
        assert client.get("/health")[:2] == (200, {"status": "ok"})
        assert client.get("/ready")[1] == {"ready": True, "model": "credit", "version": 1}
        status, model, _ = client.get("/model")
        assert status == 200 and model["version"] == 1 and model["task"] == "binary"
        assert [c["name"] for c in model["inputs"]] == [
            "income",
            "age",
            "plan",
            "paperless",
            "opened",
        ]
        client.post("/predict", record(credit_table(rows=3), 0))
        status, text, headers = client.get("/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        assert 'forgeml_requests_total{path="/predict",status="200"} 1' in text
        assert 'forgeml_model_info{model="credit",version="1",arm="champion"} 1' in text
        assert "forgeml_request_seconds_count 1" in text
        status, spec, _ = client.get("/openapi.json")
        record_schema = spec["components"]["schemas"]["Record"]
        assert record_schema["properties"]["income"]["type"] == "number"
        assert record_schema["additionalProperties"] is False
        assert spec["servers"] == [{"url": f"http://127.0.0.1:{client.port}"}]
        status, page, _ = client.get("/docs")
        assert (
            status == 200 and "SwaggerUIBundle" in page and "http://" not in page.split("spec:")[0]
        )


def test_api_and_admin_keys(lightgbm_project: Project) -> None:
    good = record(credit_table(rows=3), 0)
    options = ServeOptions(api_key="k-" + SENTINEL, admin_key="a-" + SENTINEL, freeze_gc=False)
    with live_server(lightgbm_project, options=options) as (_, client):
        assert client.post("/predict", good)[0] == 401
        assert client.post("/predict", good, headers={"x-api-key": "wrong"})[0] == 401
        assert client.post("/predict", good, headers={"x-api-key": "k-" + SENTINEL})[0] == 200
        bearer = {"authorization": "Bearer k-" + SENTINEL}
        assert client.post("/predict", good, headers=bearer)[0] == 200
        assert client.post("/admin/reload")[0] == 401
        assert client.post("/admin/reload", headers={"x-admin-key": "k-" + SENTINEL})[0] == 401
        status, body, _ = client.post("/admin/reload", headers={"x-admin-key": "a-" + SENTINEL})
        assert status == 200 and body["switched"] is False
    assert SENTINEL not in repr(options)
    with live_server(lightgbm_project, log=False) as (_, client):
        status, body, _ = client.post("/admin/reload")
        assert status == 403 and "FORGEML_ADMIN_KEY" in body["fix"]


def test_hot_reload_switches_versions_without_failing_a_request(
    lightgbm_project: Project,
) -> None:
    register(lightgbm_project, seed=1, champion=False)
    good = record(credit_table(rows=3), 0)
    seen: Counter[int] = Counter()
    errors: list[object] = []
    stop = threading.Event()
    with live_server(lightgbm_project) as (app, client):

        def hammer() -> None:
            from serve.serving import Client

            own = Client(client.port)
            while not stop.is_set():
                status, body, _ = own.post("/predict", good)
                if status != 200:
                    errors.append(body)
                else:
                    seen[body["version"]] += 1
            own.close()

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        promote("credit@2", reason="better", project=lightgbm_project)
        _wait(lambda: client.get("/model")[1]["version"] == 2)
        time.sleep(0.3)
        rollback("credit", reason="worse", project=lightgbm_project)
        _wait(lambda: client.get("/model")[1]["version"] == 1)
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join()
        assert app.deployment.switches == 2
    assert not errors
    assert seen[1] > 0 and seen[2] > 0


def test_shadow_scores_every_request_but_never_answers(lightgbm_project: Project) -> None:
    register(lightgbm_project, seed=1, champion=False)
    start_rollout("credit@2", mode="shadow", reason="watch it", project=lightgbm_project)
    table = credit_table(rows=20, seed=3)
    with live_server(lightgbm_project) as (app, client):
        _wait(lambda: app.deployment.serving.challenger is not None)  # type: ignore[union-attr]
        ids = []
        for i in range(20):
            status, body, _ = client.post("/predict", record(table, i))
            assert status == 200 and body["version"] == 1
            ids.append(body["request_id"])
    log = read_predictions(lightgbm_project, "credit")
    arms = Counter(
        zip(log.column("arm").to_pylist(), log.column("version").to_pylist(), strict=True)
    )
    assert arms == {("champion", 1): 20, ("shadow", 2): 20}
    shadow_ids = [
        i
        for i, a in zip(
            log.column("request_id").to_pylist(), log.column("arm").to_pylist(), strict=True
        )
        if a == "shadow"
    ]
    assert sorted(shadow_ids) == sorted(ids)


def test_canary_takes_its_share_and_sticks_by_key(lightgbm_project: Project) -> None:
    register(lightgbm_project, seed=1, champion=False)
    start_rollout(
        "credit@2", mode="canary", share=0.3, key="plan", reason="try", project=lightgbm_project
    )
    good = record(credit_table(rows=3), 0)
    with live_server(lightgbm_project, log=False) as (app, client):
        _wait(lambda: app.deployment.serving.rollout is not None)  # type: ignore[union-attr]
        by_key: dict[str, set[int]] = {}
        for i in range(400):
            key = f"customer-{i % 100}"
            _, body, _ = client.post("/predict", good, headers={"x-routing-key": key})
            by_key.setdefault(key, set()).add(body["version"])
        assert all(len(v) == 1 for v in by_key.values())  # sticky
        canary_share = sum(2 in v for v in by_key.values()) / len(by_key)
        assert 0.15 < canary_share < 0.45
        end_rollout("credit", reason="done", project=lightgbm_project)
        _wait(lambda: app.deployment.serving.rollout is None)  # type: ignore[union-attr]
        assert {client.post("/predict", good)[1]["version"] for _ in range(20)} == {1}


def test_feedback_joins_predictions_by_request_id(lightgbm_project: Project) -> None:
    table = credit_table(rows=10, seed=2)
    with live_server(lightgbm_project) as (app, client):
        ids = [client.post("/predict", record(table, i))[1]["request_id"] for i in range(10)]
        _, batch, _ = client.post("/predict", [record(table, i) for i in range(3)])
        status, body, _ = client.post(
            "/feedback",
            [{"request_id": i, "label": n % 2 == 0} for n, i in enumerate(ids)]
            + [{"request_id": batch["ids"][1], "label": 1}],
        )
        assert status == 200 and body == {"accepted": 11, "conflicts": 0}
        status, body, _ = client.post("/feedback", {"request_id": ids[0], "label": "maybe"})
        assert status == 422 and "one of" in body["problems"][0]["problem"]
        status, body, _ = client.post("/feedback", {"label": True})
        assert status == 422 and body["problems"][0]["field"] == "request_id"
    joined = labelled_predictions(lightgbm_project, "credit")
    assert joined.num_rows == 11
    assert app.log is not None and app.log.logged == app.log.written == 13


def _wait(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_a_new_version_with_another_input_is_served_and_logged(sqlite_project: Project) -> None:
    from forgeml.registry import register_model
    from serve.serving import fit_bundle

    table = credit_table(rows=300)
    bundle, signature = fit_bundle(table.drop_columns(["paperless"]), flavor="lightgbm")
    first = register_model(
        "credit", bundle, signature=signature, metrics={}, lineage={}, project=sqlite_project
    )
    promote(first.ref, reason="first", project=sqlite_project)
    register(sqlite_project, champion=False)  # @2 reads 'paperless' too
    full = record(table, 0)
    narrow = {k: v for k, v in full.items() if k != "paperless"}
    with live_server(sqlite_project) as (_, client):
        assert client.post("/predict", narrow)[0] == 200
        promote("credit@2", reason="more inputs", project=sqlite_project)
        _wait(lambda: client.get("/model")[1]["version"] == 2)
        assert client.post("/predict", narrow)[0] == 422  # 'paperless' is now required
        assert client.post("/predict", full)[0] == 200
    log = read_predictions(sqlite_project, "credit")
    assert log.column("version").to_pylist() == [1, 2]
    assert log.column("paperless").to_pylist() == [None, full["paperless"]]


def test_event_time_for_replays_needs_the_admin_key(lightgbm_project: Project) -> None:
    good = record(credit_table(rows=3), 0)
    options = ServeOptions(admin_key="adm", reload_interval=0.1, freeze_gc=False)
    past = 1_700_000_000.0
    with live_server(lightgbm_project, options=options) as (_, client):
        replayed = client.post(
            "/predict", good, headers={"x-event-time": str(past), "x-admin-key": "adm"}
        )
        ignored = client.post("/predict", good, headers={"x-event-time": str(past)})
        client.post(
            "/feedback",
            {"request_id": replayed[1]["request_id"], "label": True},
            headers={"x-event-time": str(past + 86400), "x-admin-key": "adm"},
        )
    log = read_predictions(lightgbm_project, "credit")
    times = {
        r: t.timestamp()
        for r, t in zip(
            log.column("request_id").to_pylist(), log.column("time").to_pylist(), strict=True
        )
    }
    assert times[replayed[1]["request_id"]] == past
    assert times[ignored[1]["request_id"]] > past + 10**7
    joined = labelled_predictions(lightgbm_project, "credit")
    assert joined.column("label_time")[0].as_py().timestamp() == past + 86400
