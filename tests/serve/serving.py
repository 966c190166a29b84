"""Helpers for serving tests: real fitted models registered in a project, a live server."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import lightgbm
import numpy as np
import pyarrow as pa
from sklearn.linear_model import LogisticRegression, Ridge

from forgeml.data.normalize import normalize
from forgeml.data.profile import profile_table
from forgeml.data.schema import infer_schema
from forgeml.features import FeaturePipeline
from forgeml.project import Project
from forgeml.registry import ModelBundle, promote, register_model
from forgeml.registry.versions import ModelVersion
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.connections import PROTOCOL, ConnectionLimits, configure
from forgeml.serve.deployment import Deployment
from forgeml.serve.predlog import PredictionLog
from serve.clients import JsonClient
from support import scaled

PLANS = ["basic", "pro", "family", "student"]


def credit_table(rows: int = 600, *, seed: int = 0) -> pa.Table:
    """Mixed inputs (float, integer, category with nulls, boolean, timestamp) and targets."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, rows)
    age = rng.integers(18, 80, rows)
    plan = rng.choice(PLANS, rows).astype(object)
    plan[rng.random(rows) < 0.05] = None
    paperless = rng.random(rows) < 0.5
    start = datetime(2025, 1, 1)
    opened = [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 180, rows)]
    signal = (income - income.mean()) / income.std() - 0.03 * (age - 50) + paperless
    default = signal + rng.normal(0, 1, rows) < 0.3
    tier = np.digitize(signal + rng.normal(0, 0.5, rows), [-0.5, 0.7])
    return normalize(
        pa.table(
            {
                "income": income,
                "age": age,
                "plan": pa.array(list(plan), type=pa.string()),
                "paperless": paperless,
                "opened": pa.array(opened, type=pa.timestamp("us")),
                "default": default,
                "tier": pa.array([["low", "mid", "high"][t] for t in tier]),
                "spend": signal * 100.0 + rng.normal(0, 10, rows),
            }
        )
    )


TARGETS = {"binary": "default", "multiclass": "tier", "regression": "spend"}


def fit_bundle(table: pa.Table, *, flavor: str, task: str = "binary") -> tuple[ModelBundle, dict]:
    """A real fitted model + preprocessing + signature for ``task``."""
    target = TARGETS[task]
    features = table.drop_columns([t for t in TARGETS.values() if t != target])
    schema = infer_schema(features, profile_table(features))
    strategy = "tree" if flavor == "lightgbm" else "linear"
    pipeline = FeaturePipeline.fit(features, schema, target=target, strategy=strategy)
    x = pipeline.transform(features)
    y_raw = features.column(target).to_pylist()
    classes: list[Any] | None = None
    if task == "regression":
        y = np.asarray(y_raw, dtype=np.float64)
    else:
        classes = sorted(set(y_raw))
        y = np.array([classes.index(v) for v in y_raw])
    if flavor == "lightgbm":
        params: dict[str, Any] = {"verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
        params["objective"] = {"binary": "binary", "multiclass": "multiclass"}.get(
            task, "regression"
        )
        if task == "multiclass":
            params["num_class"] = 3
        estimator: Any = lightgbm.train(params, lightgbm.Dataset(x, y), num_boost_round=30)
    elif task == "regression":
        estimator = Ridge().fit(x, y)
    else:
        estimator = LogisticRegression(max_iter=500).fit(x, y)
    extras: dict[str, Any] = {"task": task, "classes": classes, "target": target}
    if task == "binary":
        extras["threshold"] = 0.5
    bundle = ModelBundle(flavor, estimator, pipeline.to_dict(), extras)  # type: ignore[arg-type]
    inputs = [c for c in schema["columns"] if c["name"] in pipeline.input_columns]
    signature = {"inputs": inputs, "target": target, "task": task, "classes": classes}
    return bundle, signature


def register(
    project: Project,
    name: str = "credit",
    *,
    flavor: str = "lightgbm",
    task: str = "binary",
    seed: int = 0,
    champion: bool = True,
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    bundle, signature = fit_bundle(credit_table(seed=seed), flavor=flavor, task=task)
    version = register_model(
        name, bundle, signature=signature, metrics=metrics or {}, lineage={}, project=project
    )
    if champion:
        promote(version.ref, reason="test", project=project)
    return version


def record(table: pa.Table, row: int = 0) -> dict[str, Any]:
    """Row ``row`` of ``table`` as the JSON a client sends."""
    out = {}
    for name in ("income", "age", "plan", "paperless", "opened"):
        value = table.column(name)[row].as_py()
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


class Client(JsonClient):
    """A keep-alive HTTP client for one live server; it reconnects once when the server has
    closed the kept-alive connection (idle timeout, or an error reply that ends it)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))

    def _exchange(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        try:
            response = self._send(method, path, data, headers)
        except (http.client.RemoteDisconnected, http.client.CannotSendRequest, OSError) as e:
            if isinstance(e, TimeoutError):
                raise
            self.connection.close()  # the server closed the kept-alive connection: once more
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(30))
            response = self._send(method, path, data, headers)
        return response.status, response.read(), dict(response.getheaders())

    def _send(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        self.connection.request(method, path, body=data, headers=headers)
        return self.connection.getresponse()

    def close(self) -> None:
        self.connection.close()


@contextmanager
def live_server(
    project: Project,
    model: str = "credit",
    *,
    options: ServeOptions | None = None,
    log: bool = True,
    flush_interval: float = 0.2,
    out_of_range: str = "flag",
    limits: ConnectionLimits | None = None,
) -> Iterator[tuple[ModelServer, Client]]:
    """A real uvicorn server on a free localhost port, in a thread, until the block ends."""
    import uvicorn

    deployment = Deployment(project, model, out_of_range=out_of_range)  # type: ignore[arg-type]
    deployment.refresh()
    serving = deployment.serving
    assert serving is not None
    prediction_log = (
        PredictionLog(project, model, serving.champion.schema.inputs, flush_interval=flush_interval)
        if log
        else None
    )
    app = ModelServer(
        deployment,
        options=options or ServeOptions(reload_interval=0.1, freeze_gc=False),
        prediction_log=prediction_log,
    )
    configure(limits or ConnectionLimits())
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        http=PROTOCOL,
        log_config=None,  # leave the test process's logging (and its stderr) alone
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + scaled(60)
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = Client(port)
    try:
        yield app, client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=scaled(30))
