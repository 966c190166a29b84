"""A year of traffic through a real server, labels 30 days late, the loop at each month end.

The champion is served by ``forgeml serve``'s app under uvicorn on a free localhost port.
Each month's applications are sent to ``POST /predict`` (ten per request, in date order,
stamped with their application time through ``X-Event-Time``); the true outcomes of the
month before are sent to ``POST /feedback``. At each month end the loop ticks as
``forgeml loop`` would (monitoring, triggers, retraining, rollout decisions) with the
simulated date as its clock, and the server picks up every alias move and rollout.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.demo.credit import START
from forgeml.loop.daemon import tick
from forgeml.project import Project
from forgeml.report.states import cycle_sentence
from forgeml.serve.app import ModelServer
from forgeml.serve.deployment import Deployment
from forgeml.serve.options import ServeOptions
from forgeml.serve.predlog import PredictionLog

__all__ = ["MonthRecord", "replay_year"]

ADMIN_KEY = "demo-admin-key"
LABEL_DELAY = timedelta(days=30)
Say = Callable[[str], None]


@dataclass
class MonthRecord:
    """What happened in one simulated month."""

    month: int
    start: datetime
    end: datetime
    rows: int = 0
    requests: int = 0
    errors: int = 0
    versions: dict[int, int] = field(default_factory=dict)  # rows answered per version
    drift_share: float | None = None
    drifted: list[str] = field(default_factory=list)
    decayed: bool = False
    events: list[str] = field(default_factory=list)
    champion: int | None = None
    canary: int | None = None


def month_bounds(month: int) -> tuple[datetime, datetime]:
    start = (START + timedelta(days=30 * (month - 1))).replace(tzinfo=UTC)
    return start, start + timedelta(days=30)


def replay_year(
    project: Project,
    traffic: pa.Table,
    *,
    say: Say,
    on_month: Callable[[MonthRecord], None] | None = None,
    batch: int = 10,
) -> list[MonthRecord]:
    """Serve ``traffic`` month by month with the loop ticking at each month end."""
    deployment = Deployment(project, "credit")
    deployment.refresh()
    serving = deployment.serving
    assert serving is not None
    log = PredictionLog(project, "credit", serving.champion.schema.inputs, flush_interval=0.5)
    app = ModelServer(
        deployment,
        options=ServeOptions(admin_key=ADMIN_KEY, reload_interval=0.2, freeze_gc=False),
        prediction_log=log,
    )
    server, port = _start(app)
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    months = sorted(set(traffic.column("month").to_pylist()))
    inputs = [str(c["name"]) for c in serving.champion.schema.inputs]
    pending: list[tuple[str, bool, float]] = []  # request id, label, when it is known
    records = []
    try:
        for month in months:
            start, end = month_bounds(month)
            record = MonthRecord(month, start, end)
            rows = traffic.filter(pc.equal(traffic.column("month"), month))
            rows = rows.take(pc.sort_indices(rows, sort_keys=[("application_date", "ascending")]))
            pending += _serve_month(client, rows, inputs, batch, record)
            pending = _send_labels(client, pending, end.timestamp())
            log.flush()  # everything answered so far is in the log before the loop looks
            outcome = tick("credit", project=project, now=end, progress=say)
            deployment.refresh()
            _note(record, outcome, deployment)
            records.append(record)
            if on_month is not None:
                on_month(record)
        _send_labels(client, pending, float("inf"))  # the last labels, for the final figures
    finally:
        client.close()
        server.should_exit = True
        deadline = time.monotonic() + 30
        while server.started and time.monotonic() < deadline:
            time.sleep(0.05)
    return records


def _serve_month(
    client: http.client.HTTPConnection,
    rows: pa.Table,
    inputs: list[str],
    batch: int,
    record: MonthRecord,
) -> list[tuple[str, bool, float]]:
    columns = {name: rows.column(name).to_pylist() for name in inputs}
    for name, values in columns.items():
        if values and isinstance(values[0], datetime):
            columns[name] = [v.isoformat() for v in values]
    dates = rows.column("application_date").to_pylist()
    customers = rows.column("customer_id").to_pylist()
    truth = rows.column("defaulted").to_pylist()
    labels = []
    for lo in range(0, rows.num_rows, batch):
        hi = min(lo + batch, rows.num_rows)
        payload = [{name: columns[name][i] for name in inputs} for i in range(lo, hi)]
        at = dates[lo].replace(tzinfo=UTC).timestamp()
        status, body = _post(
            client,
            "/predict",
            payload,
            {"x-event-time": str(at), "x-admin-key": ADMIN_KEY, "x-routing-key": customers[lo]},
        )
        record.requests += 1
        if status != 200:
            record.errors += 1
            continue
        ids = body.get("ids") or [body["request_id"]]
        record.rows += len(ids)
        record.versions[body["version"]] = record.versions.get(body["version"], 0) + len(ids)
        known = (dates[lo] + LABEL_DELAY).replace(tzinfo=UTC).timestamp()
        labels += [(ids[k], truth[lo + k], known) for k in range(len(ids))]
    return labels


def _send_labels(
    client: http.client.HTTPConnection, pending: list[tuple[str, bool, float]], now: float
) -> list[tuple[str, bool, float]]:
    due = [p for p in pending if p[2] <= now]
    for lo in range(0, len(due), 2000):
        chunk = due[lo : lo + 2000]
        when = min(now, max(p[2] for p in chunk))
        status, body = _post(
            client,
            "/feedback",
            [{"request_id": r, "label": label} for r, label, _ in chunk],
            {"x-event-time": str(when), "x-admin-key": ADMIN_KEY},
        )
        if status != 200:
            raise RuntimeError(f"feedback refused: {body}")
    return [p for p in pending if p[2] > now]


def _note(record: MonthRecord, outcome: Any, deployment: Deployment) -> None:
    serving = deployment.serving
    if serving is not None:
        record.champion = serving.champion.number
        if serving.rollout is not None and serving.challenger is not None:
            record.canary = serving.challenger.number
    report = outcome.report
    if report is not None and report.windows:
        latest = report.windows[-1]
        if latest.drift is not None:
            record.drift_share = latest.drift.share
            record.drifted = list(latest.drift.drifted_columns)
        record.decayed = report.decayed
    if outcome.fired:
        record.events.append(f"{', '.join(outcome.fired)} detected")
    for cycle in outcome.cycles:
        record.events.append(
            f"retraining cycle: {cycle_sentence(cycle.status, cycle.stage, cycle.details)}"
        )
    if outcome.verdict is not None:
        record.events.append(outcome.verdict.describe())


def _post(
    client: http.client.HTTPConnection, path: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    for attempt in (1, 2):
        try:
            sent = {"content-type": "application/json", **headers}
            client.request("POST", path, body=json.dumps(body), headers=sent)
            response = client.getresponse()
            return response.status, json.loads(response.read())
        except (ConnectionError, http.client.HTTPException):
            client.close()  # the server closed an idle keep-alive connection: reconnect
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start(app: ModelServer) -> tuple[Any, int]:
    import uvicorn

    # log_config=None: a server inside this process must not reconfigure its logging
    # (dictConfig closes every existing handler, and some close the process's stderr).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="forgeml-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    return server, int(server.servers[0].sockets[0].getsockname()[1])
