"""forgeml monitor's outputs: the offline HTML report, the JSON, the terminal, the webhooks."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import typer
from typer.testing import CliRunner, Result

from forgeml.cli import monitor as cli_monitor
from forgeml.cli.context import state
from forgeml.cli.monitor import alerts_command, monitor_command
from forgeml.errors import DataError
from forgeml.monitor import (
    DriftReport,
    alerts,
    compare,
    data_quality,
    fit_reference,
    profile_window,
)
from forgeml.monitor.html import render, write_monitor_report
from forgeml.monitor.performance import WindowMetrics
from forgeml.monitor.references import store_reference
from forgeml.monitor.run import MonitorReport, WindowResult, monitor
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.registry.versions import ModelVersion
from forgeml.report.charts import inline_assets, spec
from forgeml.serve.predlog import PredictionLog
from forgeml.training.predict import Predictor
from serve.serving import credit_table, register

START = datetime(2025, 3, 1, tzinfo=UTC)
INPUTS = ["income", "age", "plan", "paperless", "opened"]
EVIL = "<script>alert(1)</script>"
RANGE = ["--from", "2025-03-01", "--to", "2025-03-03", "--window", "1d", "--max-drop", "0.1"]


def _serve_day(project: Project, log: PredictionLog, table: pa.Table, day: int, flip: bool) -> None:
    _, bundle = load_model("credit@1", project=project)
    scores = Predictor(bundle).scores(table)
    truth = [not t if flip else t for t in table.column("default").to_pylist()]
    ids = [f"d{day}-{i}" for i in range(table.num_rows)]
    at = (START + timedelta(days=day, hours=12)).timestamp()
    log.log_predictions(
        ids=ids,
        version=1,
        arm="champion",
        inputs={n: table.column(n).to_pylist() for n in INPUTS},
        scores=scores,
        labels=list(scores >= 0.5),
        latency_ms=1.0,
        time=at,
    )
    log.log_feedback(ids, truth, time=at + 86400)


@pytest.fixture
def served(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A champion with a stored reference; day 0 served as trained, day 1 shifted and wrong."""
    monkeypatch.delenv(cli_monitor.ENV_WEBHOOKS, raising=False)
    register(sqlite_project, metrics={"test": {"roc_auc": 0.8, "threshold": 0.5}})
    version = model_version("credit@1", project=sqlite_project)
    store_reference(version, project=sqlite_project, table=credit_table(rows=1500, seed=0))
    calm = credit_table(rows=300, seed=1)
    shifted = credit_table(rows=300, seed=2)
    shifted = shifted.set_column(0, "income", pc.multiply(shifted.column("income"), 0.5))
    with PredictionLog(sqlite_project, "credit", version.signature["inputs"]) as log:
        _serve_day(sqlite_project, log, calm, 0, flip=False)
        _serve_day(sqlite_project, log, shifted, 1, flip=True)
    return sqlite_project


def _cli(project: Project, *args: str) -> Result:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        state(ctx).project_dir = project.root
        ctx.call_on_close(state(ctx).close)

    app.command("monitor")(monitor_command)
    app.command("alerts")(alerts_command)
    return CliRunner().invoke(app, list(args))


class _Page(HTMLParser):
    """Every tag, and every URL the page would fetch or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _without_charts(page: str) -> str:
    """The page less the chart library written into it and each chart's data block."""
    assert page.count(inline_assets()) == 1
    return re.sub(r'<script type="application/json" class="fm-data">[^<]*</script>', "",
                  page.replace(inline_assets(), ""))  # fmt: skip


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def test_the_html_report_is_self_contained_with_a_section_and_chart_per_input(
    served: Project, tmp_path: Path
) -> None:
    report = monitor(
        "credit", project=served, start=START, end=START + timedelta(days=2), max_drop=0.1
    )
    path = write_monitor_report(report, tmp_path / "out" / "report.html", project=served)
    page = path.read_text(encoding="utf-8")
    rest = _without_charts(page)
    parsed = _parse(rest)
    assert page.startswith("<!DOCTYPE html>")
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert all(link.startswith("#") for link in parsed.links), parsed.links
    assert "http://" not in page and "https://" not in page
    assert {"alerts", "timeline", "drift", "inputs", "predictions", "quality", "changes"} <= (
        parsed.ids
    )
    for i, name in enumerate(INPUTS, start=1):
        assert f"input-{i}" in parsed.ids
        assert f"<figcaption>{name}: share of values per bin</figcaption>" in page
    # Two timeline charts, a distribution per input and for the score, income's effect trend.
    assert page.count('<figure class="fm-chart"') >= 2 + len(INPUTS) + 1 + 1
    assert "Share of inputs drifted" in page
    timeline = spec(page[page.index('id="timeline"') :])
    assert timeline["x"]["time"] and len(timeline["series"][0]["x"]) == len(report.windows)
    performance = spec(page[page.index("of the labelled predictions, per window") :])
    assert performance["references"][0]["name"] == "baseline"
    assert '<span class="badge fail">inputs drifted</span>' in page
    assert '<span class="badge fail">performance decayed</span>' in page
    first = page.index("<h3>", page.index('id="inputs"'))
    assert page[first : first + 12] == "<h3>income <"  # the drifted input comes first
    assert page.count("2025-03-02 00:00") >= 2  # the shifted day: in the windows and alerts


def test_user_text_in_the_html_report_is_escaped() -> None:
    rng = np.random.default_rng(0)
    train = pa.table({EVIL: rng.normal(size=2000), "plan": rng.choice([EVIL, "basic"], 2000)})
    reference = fit_reference(train)
    rows = pa.table({EVIL: rng.normal(1.0, 1, 300), "plan": rng.choice([EVIL, "basic"], 300)})
    profile = profile_window(rows, reference)
    drift, quality = compare(reference, profile), data_quality(reference, profile)
    end = START + timedelta(days=1)
    version = ModelVersion(
        name=EVIL, version=3, flavor="lightgbm", artifact_sha256="0" * 64, signature={},
        metrics={}, lineage={}, card_sha256=None, run_id=None, created_by="test",
        created_at=START, aliases=["champion"],
    )  # fmt: skip
    window = WindowResult(
        START, end, 300, drift, quality, WindowMetrics(START, end, 0, {}), decayed=False
    )
    report = MonitorReport(
        model=EVIL, version=version, start=START, end=end, metric="roc_auc", baseline=None,
        windows=[window], overall=drift, quality=quality, changes=[], window_profiles=[profile],
    )  # fmt: skip
    page = render(report, reference=reference)
    assert drift.drifted_columns == (EVIL,)
    rest = _without_charts(page)
    assert EVIL not in page and "<script" not in rest
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script" not in _parse(rest).tags
    assert f"{EVIL}: share of values per bin" not in page  # the chart titles are escaped too
    with pytest.raises(DataError, match="profiled against reference"):
        render(report, reference=fit_reference(rows))  # not the windows' reference


def test_the_command_prints_the_table_and_verdict_and_writes_json_and_html(
    served: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _cli(served, "monitor", "credit", *RANGE, "--json", "report.json")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "window (UTC)" in out and "drifted inputs" in out  # the table, at any width
    assert "2025-03-01" in out and "2025-03-02" in out and "income" in out
    assert "verdict: drifted (income" in out and "decayed (roc_auc" in out
    assert "new alerts (" in out and "critical performance 2025-03-02 00:00" in out
    document = json.loads((tmp_path / "report.json").read_text())
    assert document["model"] == "credit" and document["drifted"] is True
    assert [w["rows"] for w in document["windows"]] == [300, 300]
    assert document["windows"][1]["drift"]["drifted"] is True
    assert (tmp_path / "monitor-credit-2025-03-03.html").is_file()  # the default page
    assert "HTML report: monitor-credit-2025-03-03.html" in out
    again = _cli(served, "monitor", "credit", *RANGE, "--no-html")
    assert again.exit_code == 0, again.output
    assert "new alerts" not in again.output
    assert f"{document['alerts'].__len__()} alerts raised before, not repeated" in again.output
    piped = _cli(served, "monitor", "credit", *RANGE, "--no-html", "--no-alerts", "--json", "-")
    assert piped.exit_code == 0
    assert json.loads(piped.stdout)["windows"][0]["rows"] == 300  # only JSON on stdout


def test_the_command_reports_each_window_on_stderr_and_keeps_stdout_for_the_report(
    served: Project,
) -> None:
    result = _cli(served, "monitor", "credit", *RANGE, "--no-html", "--no-alerts")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [  # off a terminal: one plain line per step
        "monitoring credit: reading the prediction log",
        "monitoring credit: window 1/2: 2025-03-01 00:00",
        "monitoring credit: window 2/2: 2025-03-02 00:00",
    ]
    assert "window 1/2" not in result.stdout and "verdict: drifted" in result.stdout


def test_fail_on_drift_exits_1_on_drift_or_decay_and_0_otherwise(served: Project) -> None:
    quiet = ("--no-html", "--no-alerts", "--fail-on-drift", "--window", "1d")
    calm = _cli(served, "monitor", "credit", "--from", "2025-03-01", "--to", "2025-03-02", *quiet)
    assert calm.exit_code == 0, calm.output
    assert "verdict: ok (no drift, no decay)" in calm.output
    drifted = _cli(
        served, "monitor", "credit", "--from", "2025-03-02", "--to", "2025-03-03", *quiet
    )
    assert drifted.exit_code == 1, drifted.output
    assert "verdict: drifted" in drifted.output
    plain = _cli(served, "monitor", "credit", "--from", "2025-03-02", "--to", "2025-03-03",
                 "--no-html", "--no-alerts")  # fmt: skip
    assert plain.exit_code == 0  # findings are not errors without --fail-on-drift


def test_bad_dates_and_webhooks_are_usage_errors(served: Project) -> None:
    dates = _cli(served, "monitor", "credit", "--from", "yesterday", "--no-html")
    assert dates.exit_code == 2 and "ISO date" in dates.output
    hook = _cli(served, "monitor", "credit", "--webhook", "file:///etc/passwd", "--no-html")
    assert hook.exit_code == 2 and "http(s)" in hook.output


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook?token=s3cret", handler
    server.shutdown()
    server.server_close()


def test_new_alerts_are_posted_to_the_webhook_once(
    served: Project, hook: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook
    first = _cli(served, "monitor", "credit", *RANGE, "--no-html", "--webhook", url)
    assert first.exit_code == 0, first.output
    keys = sorted(body["alert"]["key"] for body in handler.received)
    assert keys and any(k.startswith("drift:2025-03-02") for k in keys)
    assert any(k.startswith("performance:2025-03-02") for k in keys)
    assert keys == sorted(a.key for a in alerts.list_alerts(served, "credit"))
    again = _cli(served, "monitor", "credit", *RANGE, "--no-html", "--webhook", url)
    assert again.exit_code == 0
    assert len(handler.received) == len(keys)  # stored once, delivered once
    listed = _cli(served, "alerts", "credit")
    assert listed.exit_code == 0
    assert "performance" in listed.output and "pending" not in listed.output
    assert "roc_auc" in listed.output
    rows = json.loads(_cli(served, "alerts", "credit", "--json").stdout)
    assert len(rows) == len(keys) and all(r["delivered_at"] for r in rows)
    assert "no alerts" in _cli(served, "alerts", "--since", "2999-01-01").output


def test_a_webhook_that_never_answers_does_not_hold_the_command(
    served: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    monkeypatch.setattr(cli_monitor, "DELIVERY_WAIT_S", 1.0)
    monkeypatch.setattr(alerts, "ATTEMPTS", 1)  # the thread left behind ends sooner
    monkeypatch.setenv(cli_monitor.ENV_WEBHOOKS, f"http://127.0.0.1:{silent.getsockname()[1]}/x")
    try:
        started = time.monotonic()
        result = _cli(served, "monitor", "credit", *RANGE, "--no-html")
        elapsed = time.monotonic() - started
    finally:
        silent.close()  # the delivery thread's pending and next requests fail at once
    for thread in threading.enumerate():
        if thread.name == "forgeml-alerts":
            thread.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert "webhooks did not answer within 1 s" in result.output
    assert elapsed < 8, elapsed  # monitoring takes 1-2 s; the webhook would hold it for ever
    stored = alerts.list_alerts(served, "credit")
    assert stored and all(a.delivered_at is None and a.attempts == 1 for a in stored)


def test_the_documented_statistics_example_runs_as_shown() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    example = next(b for b in blocks if "fit_reference(train)" in b)
    names: dict[str, object] = {}
    exec(compile(example, str(page), "exec"), names)
    report = names["report"]
    assert isinstance(report, DriftReport)
    assert report.drifted_columns == ("income",) and "# ('income',)" in example
    quality = data_quality(names["reference"], names["day"])  # type: ignore[arg-type]
    assert quality.issues == () and ".issues                 # ()" in example


def test_alerts_without_a_webhook_say_so_instead_of_pending(
    served: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli(served, "monitor", "credit", *RANGE, "--no-html").exit_code == 0
    listed = _cli(served, "alerts", "credit")
    assert listed.exit_code == 0, listed.output
    assert "pending" not in listed.output
    assert "no webhook configured" in " ".join(listed.output.split())
    monkeypatch.setenv(cli_monitor.ENV_WEBHOOKS, "http://127.0.0.1:9/hook")
    listed = _cli(served, "alerts", "credit")
    assert "pending" in listed.output and "no webhook configured" not in listed.output
