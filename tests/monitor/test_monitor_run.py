"""forgeml monitor's core: windows of a real prediction log against a stored reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.monitor.alerts import list_alerts
from forgeml.monitor.references import reference_for, store_reference
from forgeml.monitor.run import monitor, parse_window, summary_rows
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.serve.predlog import PredictionLog
from forgeml.training.predict import Predictor
from serve.serving import credit_table, register

START = datetime(2025, 3, 1, tzinfo=UTC)
INPUTS = ["income", "age", "plan", "paperless", "opened"]


def _serve_week(
    project: Project, log: PredictionLog, table: pa.Table, day0: int, *, flip: bool
) -> None:
    _, bundle = load_model("credit@1", project=project)
    scores = Predictor(bundle).scores(table)
    truth = table.column("default").to_pylist()
    if flip:  # the world changed: the model's ranking no longer holds
        truth = [not t for t in truth]
    per_day = table.num_rows // 7
    for day in range(7):
        part = slice(day * per_day, (day + 1) * per_day)
        ids = [f"d{day0 + day}-{i}" for i in range(per_day)]
        at = (START + timedelta(days=day0 + day, hours=12)).timestamp()
        log.log_predictions(
            ids=ids,
            version=1,
            arm="champion",
            inputs={n: table.column(n).to_pylist()[part] for n in INPUTS},
            scores=scores[part],
            labels=list(scores[part] >= 0.5),
            latency_ms=1.0,
            time=at,
        )
        log.log_feedback(ids, truth[part], time=at + 30 * 86400)


def test_monitor_finds_the_shift_and_the_decay_and_alerts_once(sqlite_project: Project) -> None:
    train = credit_table(rows=3000, seed=0)
    register(sqlite_project, metrics={"test": {"roc_auc": 0.8, "threshold": 0.5}})
    version = model_version("credit@1", project=sqlite_project)
    store_reference(version, project=sqlite_project, table=train)
    calm = credit_table(rows=2100, seed=1)
    shifted = credit_table(rows=2100, seed=2)
    shifted = shifted.set_column(0, "income", pc.multiply(shifted.column("income"), 0.5))
    with PredictionLog(sqlite_project, "credit", version.signature["inputs"]) as log:
        _serve_week(sqlite_project, log, calm, 0, flip=False)
        _serve_week(sqlite_project, log, shifted, 7, flip=True)
    report = monitor(
        "credit",
        project=sqlite_project,
        start=START,
        end=START + timedelta(days=14),
        window=parse_window("7d"),
        max_drop=0.1,
    )
    first, second = report.windows
    assert first.rows == second.rows == 2100
    assert first.drift is not None and not first.drift.drifted
    assert second.drift is not None and second.drift.drifted
    assert "income" in second.drift.drifted_columns
    assert not first.decayed and second.decayed
    assert report.changes, "the error stream changed at day 7"
    kinds = sorted(a.kind for a in report.alerts)
    assert "drift" in kinds and "performance" in kinds
    again = monitor(
        "credit",
        project=sqlite_project,
        start=START,
        end=START + timedelta(days=14),
        window=timedelta(days=7),
        max_drop=0.1,
    )
    assert not any(a.created for a in again.alerts)  # the same findings alert once
    assert len(list_alerts(sqlite_project, "credit")) == len(report.alerts)
    assert report.to_dict()["windows"][1]["drift"]["drifted"] is True
    assert len(summary_rows(report)) == 2
    merged = report.overall
    assert merged is not None and merged.rows == 4200
    assert reference_for(version, project=sqlite_project).id == report.windows[0].drift.reference


def test_an_empty_range_is_reported_not_crashed(sqlite_project: Project) -> None:
    register(sqlite_project)
    version = model_version("credit@1", project=sqlite_project)
    store_reference(version, project=sqlite_project, table=credit_table(rows=500))
    report = monitor("credit", project=sqlite_project, start=START, end=START + timedelta(days=2))
    assert [w.rows for w in report.windows] == [0, 0]  # two one-day windows
    assert report.windows[0].drift is None and report.overall is None and not report.alerts
    assert report.windows[0].performance.metrics == {}


def test_conflicting_labels_are_counted_and_the_first_is_judged(sqlite_project: Project) -> None:
    register(sqlite_project, metrics={"test": {"roc_auc": 0.8, "threshold": 0.5}})
    version = model_version("credit@1", project=sqlite_project)
    store_reference(version, project=sqlite_project, table=credit_table(rows=500))
    table = credit_table(rows=700, seed=3)
    with PredictionLog(sqlite_project, "credit", version.signature["inputs"]) as log:
        _serve_week(sqlite_project, log, table, 0, flip=False)
        ids = [f"d0-{i}" for i in range(5)]
        truth = table.column("default").to_pylist()[:5]
        log.log_feedback(ids, [not t for t in truth], time=(START + timedelta(days=40)).timestamp())
    report = monitor("credit", project=sqlite_project, start=START, end=START + timedelta(days=7))
    assert report.label_conflicts == 5
    assert report.to_dict()["label_conflicts"] == 5
    assert sum(w.performance.rows for w in report.windows) == 700
