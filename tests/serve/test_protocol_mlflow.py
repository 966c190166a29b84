"""MLflow's scoring protocol: POST /invocations in every input format MLflow's server takes,
GET /ping and /version, replies and errors as MLflow gives them."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import pytest

from forgeml.project import Project
from forgeml.serve.app import ModelServer
from forgeml.serve.predlog import read_predictions
from serve.protocol_cases import credit_rows, served_project
from serve.serving import Client
from support import scaled

Served = tuple[Project, ModelServer, Client]


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_project(tmp_path_factory) as served:
        yield served


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v)
                for k, v in row.items()
            }
        )
    return out.getvalue().encode()


def test_every_input_format_gives_the_predictions_of_predict(credit: Served) -> None:
    _, app, client = credit
    rows = credit_rows(3)
    expected = client.post("/predict", rows)[1]["predictions"]
    names = list(rows[0])
    order = app.deployment.serving.champion.schema.names  # type: ignore[union-attr]
    bodies = {
        "dataframe_split": {
            "dataframe_split": {
                "columns": names,
                "index": [0, 1, 2],
                "data": [[r[n] for n in names] for r in rows],
            }
        },
        "dataframe_records": {"dataframe_records": rows},
        "instances records": {"instances": rows},
        "instances rows": {"instances": [[r[n] for n in order] for r in rows]},
        "inputs columns": {"inputs": {n: [r[n] for r in rows] for n in names}},
        "inputs records": {"inputs": rows},
    }
    for form, body in bodies.items():
        status, answer, _ = client.post("/invocations", body)
        assert status == 200, (form, answer)
        assert answer == {"predictions": expected}, form
    status, answer, _ = client.post(
        "/invocations", raw=_csv(rows), headers={"content-type": "text/csv"}
    )
    assert status == 200, answer
    assert answer == {"predictions": expected}
    one = client.post("/invocations", {"inputs": rows[0]})[1]
    assert one == {"predictions": expected[:1]}


def test_errors_say_what_is_wrong_in_mlflows_shape(credit: Served) -> None:
    _, _, client = credit
    rows = credit_rows(1)
    cases = [
        ({"dataframe_records": rows, "instances": rows}, "exactly one"),
        ({"records": rows}, "exactly one"),
        ({"dataframe_split": {"columns": ["income"], "data": [[1, 2]]}}, "1 values"),
        ({"dataframe_records": rows, "params": {"k": 1}}, "no params"),
        ([1, 2], "JSON object"),
    ]
    for body, said in cases:
        status, answer, _ = client.post("/invocations", body)
        assert status == 400, body
        assert answer["error_code"] == "BAD_REQUEST" and said in answer["message"], answer
    bad = dict(rows[0], age="old")
    status, answer, _ = client.post("/invocations", {"dataframe_records": [bad]})
    assert status == 400 and answer["error_code"] == "BAD_REQUEST"
    assert answer["problems"][0]["field"] == "age"
    status, answer, _ = client.post(
        "/invocations", raw=b"income,age\n1,2\n", headers={"content-type": "text/csv"}
    )
    assert status == 400 and {p["field"] for p in answer["problems"]} >= {"plan", "opened"}
    status, answer, _ = client.post(
        "/invocations", raw=b"x", headers={"content-type": "application/xml"}
    )
    assert status == 415 and "text/csv" in answer["message"]
    assert client.post("/invocations", raw=b"{")[0] == 400


def test_csv_values_are_typed_by_the_signature(credit: Served) -> None:
    _, _, client = credit
    rows = credit_rows(2)
    rows[1]["plan"] = None  # an empty CSV field is a null
    expected = client.post("/predict", rows)[1]["predictions"]
    status, answer, _ = client.post(
        "/invocations", raw=_csv(rows), headers={"content-type": "text/csv; charset=utf-8"}
    )
    assert status == 200 and answer["predictions"] == expected
    nan = _csv(rows).replace(str(rows[0]["income"]).encode(), b"nan")
    status, answer, _ = client.post("/invocations", raw=nan, headers={"content-type": "text/csv"})
    assert status == 400 and answer["problems"][0]["field"] == "income"


def test_ping_and_version(credit: Served) -> None:
    _, _, client = credit
    status, body, _ = client.get("/ping")
    assert status == 200
    status, body, _ = client.get("/version")
    assert status == 200 and body.strip()


def test_invocations_are_logged(credit: Served) -> None:
    project, _, client = credit
    before = len(read_predictions(project, "credit"))
    assert client.post("/invocations", {"dataframe_records": credit_rows(3)})[0] == 200
    deadline = time.monotonic() + scaled(30)
    while len(read_predictions(project, "credit")) < before + 3:
        assert time.monotonic() < deadline
        time.sleep(0.1)
