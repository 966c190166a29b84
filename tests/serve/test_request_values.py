"""Values at the edges of what JSON and the signature admit: every answer is 2xx or 4xx."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from serve.asgi import InProcessClient
from serve.serving import credit_table, record, register

BIGGEST = 1.7976931348623157e308


def _client(project: Project, model: str) -> InProcessClient:
    deployment = Deployment(project, model)
    deployment.refresh()
    return InProcessClient(ModelServer(deployment, options=ServeOptions(freeze_gc=False)))


@pytest.fixture
def clients(sqlite_project: Project) -> Iterator[dict[str, InProcessClient]]:
    made = {}
    for flavor, task in (("lightgbm", "binary"), ("sklearn", "regression")):
        name = f"{flavor}-{task}"
        register(sqlite_project, name, flavor=flavor, task=task)
        made[name] = _client(sqlite_project, name)
    yield made
    for client in made.values():
        client.close()


GOOD = record(credit_table(rows=5), 0)


@pytest.mark.parametrize(
    "opened",
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59.999999",
    ],
)
def test_timestamps_at_the_ends_of_the_calendar_are_refused_naming_the_field(
    clients: dict[str, InProcessClient], opened: str
) -> None:
    for client in clients.values():
        status, body, _ = client.post("/predict", {**GOOD, "opened": opened})
        assert status == 422, body
        assert body["problems"][0]["field"] == "opened"
        assert "0001-01-02 to 9999-12-30" in body["problems"][0]["problem"]


def test_timestamps_just_inside_the_range_are_scored(clients: dict[str, InProcessClient]) -> None:
    for opened in ("0001-01-02T14:00:00+14:00", "9999-12-30T11:59:59-12:00"):
        for client in clients.values():
            status, body, _ = client.post("/predict", {**GOOD, "opened": opened})
            assert status == 200, body


def test_extreme_numbers_never_give_a_null_or_non_finite_score(
    clients: dict[str, InProcessClient],
) -> None:
    for income in (BIGGEST, -BIGGEST):
        for age in (BIGGEST, -BIGGEST):
            for client in clients.values():
                status, body, _ = client.post("/predict", {**GOOD, "income": income, "age": age})
                assert status in (200, 422), body
                if status == 200:
                    values = body.get("scores", body["predictions"])
                    assert all(isinstance(v, float) and math.isfinite(v) for v in values), body
                else:
                    problem = body["problems"][0]
                    assert problem["field"] in ("income", "age"), body
                    assert (
                        "non-finite" in problem["problem"]
                        and "training range" in problem["problem"]
                    )
                    assert "training range" in body["fix"]
    # the linear regression's sum overflows: refused, naming the input farthest out of range
    status, body, _ = clients["sklearn-regression"].post(
        "/predict", {**GOOD, "income": BIGGEST, "age": BIGGEST}
    )
    assert status == 422 and body["problems"][0]["field"] == "age", body


def test_one_unscorable_row_refuses_the_request_naming_its_row(
    clients: dict[str, InProcessClient],
) -> None:
    client = clients["sklearn-regression"]
    rows = [GOOD, {**GOOD, "income": -BIGGEST, "age": -BIGGEST}, GOOD]
    status, body, _ = client.post("/predict", rows)
    assert status == 422
    assert [(p["field"], p["row"]) for p in body["problems"]] == [("age", 1)]


def test_problem_list_puts_type_errors_first_and_counts_the_rest(
    clients: dict[str, InProcessClient],
) -> None:
    rows = [{**GOOD, "age": None} for _ in range(30)] + [{**GOOD, "income": "x"}]
    status, body, _ = clients["lightgbm-binary"].post("/predict", rows)
    assert status == 422
    problems = body["problems"]
    assert problems[0] == {
        "field": "income",
        "row": 30,
        "problem": "expected a number, got string",
        "expected": "a number",
    }
    assert len(problems) == 20
    assert problems[-1] == {"field": "(more)", "problem": "and 12 more"}
    assert {p["field"] for p in problems[1:-1]} == {"age"}


def test_request_ids_are_unguessable_and_sort_by_time(clients: dict[str, InProcessClient]) -> None:
    client = clients["lightgbm-binary"]
    ids = [client.post("/predict", GOOD)[1]["request_id"] for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(re.fullmatch(r"[0-9a-f]{11}-[0-9a-f]{16}", i) for i in ids)
    assert [i[:11] for i in ids] == sorted(i[:11] for i in ids)
    # 64 random bits: the suffixes of consecutive ids share no structure
    suffixes = [int(i[12:], 16) for i in ids]
    assert len({s >> 48 for s in suffixes}) > 10
