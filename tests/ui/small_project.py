"""A small project with everything the UI shows: a dataset checked by validation rules, runs
with curves, a model with versions and an audit trail, monitored windows with alerts, a loop
cycle and a report.
User-provided strings carry ``<script>`` so every page's escaping is exercised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from forgeml.config import SPEC_FILE, load_spec
from forgeml.data.ingest import ingest
from forgeml.monitor.html import write_monitor_report
from forgeml.monitor.references import store_reference
from forgeml.monitor.run import monitor
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.serve.predlog import PredictionLog
from forgeml.store import cycles
from forgeml.store.models import (
    ArtifactRecord,
    DatasetRecord,
    DatasetVersionRecord,
    utcnow,
)
from forgeml.training.predict import Predictor
from forgeml.training.tracking import start_run
from serve.serving import credit_table, register

EVIL = "<script>alert(1)</script>"
START = datetime(2025, 3, 1, tzinfo=UTC)
INPUTS = ["income", "age", "plan", "paperless", "opened"]
CANDIDATES = ("lightgbm", "logistic", "xgboost")
RULES = """
datasets:
  credit:
    validation:
      rows: {min: 100}
      columns:
        age: {type: integer, min: 18, max: 100}
        plan: {allowed: [basic, pro, family, student]}
"""


def build(project: Project) -> dict[str, object]:
    """Fill ``project``; returns the ids and names the tests look for."""
    with (project.root / SPEC_FILE).open("a", encoding="utf-8") as spec:
        spec.write(RULES)
    project.spec = load_spec(project.root / SPEC_FILE)  # as if opened with the rules
    table = credit_table(rows=400, seed=0)
    data = ingest(table, name="credit", project=project).version
    run_ids = []
    for i in range(12):
        candidate = CANDIDATES[i % 3]
        with start_run(
            experiment="credit",
            project=project,
            dataset=data,
            params={"candidate": candidate, "learning_rate": 0.05 * (i + 1), "note": EVIL},
            tags={"owner": EVIL if i == 0 else "ml-team"},
        ) as run:
            for step in range(4):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metrics({"roc_auc": 0.70 + 0.02 * i, "f1": 0.5 + 0.01 * (i % 4)})
            run_ids.append(run.id)
    first = register(project, metrics={"test": {"roc_auc": 0.8, "threshold": 0.5}})
    second = register(project, champion=False, seed=1, metrics={"test": {"roc_auc": 0.82}})
    store_reference(first, project=project, table=credit_table(rows=1500, seed=0))
    _serve(project)
    report = monitor(
        "credit", project=project, start=START, end=START + timedelta(days=3), max_drop=0.1
    )
    write_monitor_report(report, project.root / "credit-monitoring.html", project=project)
    with project.store.write() as session:
        cycle = cycles.get_or_create(session, "credit", "cycle-1", f"drift {EVIL}")
        cycles.update(
            session,
            cycle.id,
            stage="decided",
            status="kept",
            details={"reason": f"the champion is better {EVIL}", "challenger": second.version},
        )
        _hostile_dataset(session)
    return {"runs": run_ids, "champion": first.version, "challenger": second.version}


def _serve(project: Project) -> None:
    """Three days of traffic: two calm, the third shifted with wrong predictions."""
    version = model_version("credit@1", project=project)
    _, bundle = load_model("credit@1", project=project)
    with PredictionLog(project, "credit", version.signature["inputs"]) as log:
        for day in range(3):
            table = credit_table(rows=300, seed=day + 1)
            if day == 2:
                table = table.set_column(0, "income", pc.multiply(table.column("income"), 0.5))
            scores = Predictor(bundle).scores(table)
            truth = table.column("default").to_pylist()
            if day == 2:
                truth = [not t for t in truth]
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
            log.log_feedback(ids, truth, time=at + 3600)


def _hostile_dataset(session: object) -> None:
    """A dataset whose name no forgeml command accepts (written by other means)."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    sha = "f" * 64
    session.add(
        ArtifactRecord(sha256=sha, size_bytes=1, kind="dataset/parquet", created_at=utcnow())
    )
    parent = DatasetRecord(name=EVIL, created_at=utcnow())
    session.add(parent)
    session.flush()
    session.add(
        DatasetVersionRecord(
            dataset_id=parent.id,
            version=1,
            content_hash="e" * 64,
            artifact_sha256=sha,
            n_rows=1,
            n_columns=1,
            schema={"columns": [{"name": EVIL, "kind": "text"}]},
            profile={"columns": {EVIL: {"kind": "category", "nulls": 0, "top": [[EVIL, 1]]}}},
            source=EVIL,
            created_by=EVIL,
            created_at=utcnow(),
        )
    )
