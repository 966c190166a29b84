"""The server under abuse: fuzzed payloads, concurrent load, SIGTERM and kill -9."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forgeml.project import Project
from forgeml.serve.predlog import read_predictions
from serve.serving import Client, credit_table, live_server, record, register
from support import ServerProcess

INPUTS = ["income", "age", "plan", "paperless", "opened"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(st.sampled_from([*INPUTS, "extra", ""]), json_values, max_size=7)
payloads = (
    json_values
    | records
    | st.lists(records, max_size=4)
    | st.fixed_dictionaries({"columns": st.dictionaries(st.sampled_from(INPUTS), json_values)})
    | st.fixed_dictionaries({"records": json_values})
)


@pytest.fixture
def lightgbm_project(sqlite_project: Project) -> Project:
    register(sqlite_project, flavor="lightgbm")
    return sqlite_project


def test_fuzzed_payloads_never_break_the_server(lightgbm_project: Project) -> None:
    good = record(credit_table(rows=3), 0)
    with live_server(lightgbm_project, log=False) as (app, client):

        @settings(
            max_examples=250,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(payload=payloads)
        def structured(payload: object) -> None:
            status, body, _ = client.post("/predict", payload)
            assert status in (200, 400, 413, 422), body
            if status != 200:
                assert "error" in body and "Traceback" not in json.dumps(body)

        @settings(max_examples=100, deadline=None)
        @given(raw=st.binary(max_size=200))
        def raw_bytes(raw: bytes) -> None:
            status, body, _ = client.post("/predict", raw=raw)
            assert status in (200, 400, 422), body

        @settings(max_examples=80, deadline=None)
        @given(item=json_values)
        def feedback(item: object) -> None:
            status, _, _ = client.post("/feedback", item)
            assert status in (200, 400, 409, 422)

        structured()
        raw_bytes()
        feedback()
        assert client.post("/predict", good)[0] == 200  # still serving
    assert app.metrics.requests[("/predict", 500)] == 0


def test_concurrent_load_loses_no_prediction(lightgbm_project: Project) -> None:
    table = credit_table(rows=50, seed=4)
    rows = [record(table, i) for i in range(50)]
    served, errors = [0] * 16, []
    stop = time.monotonic() + 3.0
    with live_server(lightgbm_project, flush_interval=0.1) as (app, client):

        def run(worker: int) -> None:
            own = Client(client.port)
            i = 0
            while time.monotonic() < stop:
                status, body, _ = own.post("/predict", rows[i % 50])
                if status == 200:
                    served[worker] += 1
                else:
                    errors.append(body)
                i += 1
            own.close()

        threads = [threading.Thread(target=run, args=(w,)) for w in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    total = sum(served)
    assert total > 100
    log = read_predictions(lightgbm_project, "credit")
    assert log.num_rows == total == app.metrics.requests[("/predict", 200)]
    assert len(set(log.column("request_id").to_pylist())) == total


@pytest.mark.slow
def test_sigterm_flushes_every_prediction(
    lightgbm_project: Project, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(
        lightgbm_project.root, "credit", "--flush-interval", "30", "--workers", "2"
    )
    client = Client(server.port)
    good = record(credit_table(rows=3), 0)
    for _ in range(120):
        assert client.post("/predict", good)[0] == 200
    client.close()
    assert server.stop(signal.SIGTERM) == 0
    assert read_predictions(lightgbm_project, "credit").num_rows == 120


@pytest.mark.slow
def test_kill_9_loses_at_most_the_last_flush_interval(
    lightgbm_project: Project, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(lightgbm_project.root, "credit", "--flush-interval", "0.2")
    client = Client(server.port)
    good = record(credit_table(rows=3), 0)
    for _ in range(150):
        assert client.post("/predict", good)[0] == 200
    time.sleep(1.5)  # several flush intervals: these 150 are on disk
    for _ in range(30):
        client.post("/predict", good)
    server.stop(signal.SIGKILL)
    client.close()
    log = read_predictions(lightgbm_project, "credit")  # readable: no torn segment
    assert 150 <= log.num_rows <= 180
    assert Path(lightgbm_project.root).exists()
