"""Property: for any input the signature admits, the answer is 2xx with finite scores, or 4xx."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from serve.asgi import InProcessClient
from serve.serving import credit_table, live_server, record, register

BIGGEST = 1.7976931348623157e308
MODELS = (("lightgbm", "binary"), ("sklearn", "regression"), ("sklearn", "multiclass"))

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([BIGGEST, -BIGGEST, 5e-324, -0.0, 1e300, -1e300]),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.none(),
)
zones = st.one_of(
    st.none(),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda m: timezone(timedelta(minutes=m))
    ),
)
stamps = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    zones,
)
edge_stamps = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59.999999+23:59",
        "0001-01-01",
    ]
)
records = st.fixed_dictionaries(
    {
        "income": numbers,
        "age": numbers,
        "plan": st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["pro", "basic"])),
        "paperless": st.one_of(st.booleans(), st.none()),
        "opened": st.one_of(stamps, edge_stamps, st.none(), st.text(max_size=20)),
    }
)
payloads = st.one_of(records, st.lists(records, min_size=1, max_size=5))


def _finite_answer(body: dict[str, Any]) -> None:
    values: list[Any] = list(body.get("scores", []))
    if "probabilities" in body:
        values += [p for row in body["probabilities"] for p in row]
    if "scores" not in body and "probabilities" not in body:
        values = list(body["predictions"])  # regression: the value itself
    assert values, body
    assert all(isinstance(v, float | int) and math.isfinite(v) for v in values), body


@pytest.fixture
def clients(sqlite_project: Project) -> Iterator[list[InProcessClient]]:
    made = []
    for flavor, task in MODELS:
        name = f"{flavor}-{task}"
        register(sqlite_project, name, flavor=flavor, task=task)
        deployment = Deployment(sqlite_project, name)
        deployment.refresh()
        made.append(InProcessClient(ModelServer(deployment, options=ServeOptions(freeze_gc=False))))
    yield made
    for client in made:
        client.close()


def test_any_admitted_input_gets_a_finite_answer_or_a_4xx(clients: list[InProcessClient]) -> None:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=payloads, which=st.integers(min_value=0, max_value=len(MODELS) - 1))
    def answer(payload: Any, which: int) -> None:
        status, body, _ = clients[which].post("/predict", payload)
        assert 200 <= status < 500, body
        if status == 200:
            _finite_answer(body)
        else:
            assert body["problems"] and all(p["field"] for p in body["problems"]), body

    answer()
    for client in clients:
        assert not any(status >= 500 for _, status in client.app.metrics.requests)


def test_the_edges_over_real_http(sqlite_project: Project) -> None:
    register(sqlite_project, flavor="sklearn", task="regression")
    good = record(credit_table(rows=3), 0)
    cases = [
        {**good, "income": BIGGEST, "age": BIGGEST},
        {**good, "income": -BIGGEST, "age": -BIGGEST},
        {**good, "income": 10**30},
        {**good, "opened": "0001-01-01T00:00:00+01:00"},
        {**good, "opened": "9999-12-31T23:59:59-01:00"},
        {**good, "plan": "\u00e9\u4e2d\U0001f600\u200b"},
        {**good, "opened": datetime(2025, 1, 1, tzinfo=UTC).isoformat()},
    ]
    with live_server(sqlite_project, log=False) as (app, client):
        for payload in cases:
            status, body, _ = client.post("/predict", payload)
            assert status in (200, 422), body
            if status == 200:
                _finite_answer(body)
    assert not any(status >= 500 for _, status in app.metrics.requests)
