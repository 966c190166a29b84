"""The demo scenario: a credit-default project walked through forgeml's loop.

Each step is real: files are written, ingested, validated and profiled in a project on
disk, and every number printed comes from the stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.metrics import log_loss, roc_auc_score

from forgeml.config import SPEC_FILE
from forgeml.data import DatasetVersion, ingest
from forgeml.data.validation import Violation
from forgeml.demo.credit import generate_credit
from forgeml.demo.folder import fresh_folder
from forgeml.demo.year import YearResult, run_year
from forgeml.errors import ForgemlError, ValidationFailed
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.training.predict import Predictor
from forgeml.training.report import write_report
from forgeml.training.trainer import TrainResult, train

__all__ = ["DemoResult", "Narrator", "run_demo"]

SPEC = """\
project: credit-demo

datasets:
  credit:
    validation:
      rows: {min: 1000}
      required: [customer_id, application_date, income, defaulted]
      columns:
        customer_id: {type: string, unique: true, nullable: false}
        age: {type: integer, min: 18, max: 100, nullable: false}
        income: {type: number, min: 0, max_null_fraction: 0.01}
        utilisation: {type: number, min: 0, max: 1}
        region: {type: category, allowed: [north, south, east, west]}
        defaulted: {type: boolean, nullable: false}

train:
  target: defaulted
  exclude: [customer_id, month, application_date]   # ids, and dates a model would extrapolate
  slices: [region, employment]
  costs: {false_positive: 1, false_negative: 5}   # a missed default costs 5x a refused loan
  budget: {trials: 8, time: 90s}

gate:
  min_rows: 200
  metrics: {roc_auc: {min: 0.65}}
  versus_champion: {log_loss: {max_delta: 0.0}}   # on the same rows: no worse calibrated
  slices: {roc_auc: {min: 0.55}}
  min_slice_rows: 100   # smaller slices are too noisy to judge

monitor:
  window: 30d
  metric: log_loss          # the shock breaks the probabilities before the ranking
  max_drop: 0.05
  min_labels: 200

policy:
  retrain_on: [drift, performance]
  evaluate_on: 10d          # the newest labelled rows, held out to judge the challenger
  data: {mode: sliding_window, window: 30d, min_rows: 800}
  rollout: {mode: canary, share: 0.3, predictions: 300}
"""


class Narrator(Protocol):
    def step(self, title: str) -> None: ...
    def say(self, text: str) -> None: ...
    def rejected(self, error: ValidationFailed) -> None: ...
    def trained(self, result: TrainResult) -> None: ...
    def shift(self, rows: list[tuple[str, str, str]]) -> None: ...


@dataclass(frozen=True)
class DemoResult:
    project: Path
    versions: list[DatasetVersion]
    rejected: list[Violation]
    model: str | None
    card: Path | None
    before: dict[str, float]  # champion on held-out months 1-6
    after: dict[str, float]  # the same champion on months 7-12
    loop: YearResult | None = None
    champion: str | None = None  # at the end, after the loop


def run_demo(
    directory: str | Path,
    narrator: Narrator,
    *,
    rows_per_month: int = 2000,
    traffic_rows: int = 1500,
    seed: int = 7,
    force: bool = False,
) -> DemoResult:
    """Run the scenario in a fresh project in ``directory`` (see :func:`fresh_folder`)."""
    root = fresh_folder(Path(directory), force=force)
    (root / SPEC_FILE).write_text(SPEC, encoding="utf-8")
    with Project.init(root) as project:
        narrator.step(f"Project in {project.root}")
        narrator.say(f"metadata: {project.store.display_url}; artifacts: {project.artifacts.url}")

        narrator.step("Generate a year of credit applications (economic shock from month 7)")
        year = generate_credit(rows_per_month=rows_per_month, months=12, seed=seed)
        months = year.column("month")
        first = year.filter(pc.less(months, 7))
        second = year.filter(pc.greater_equal(months, 7))
        inbox = root / "inbox"
        inbox.mkdir(exist_ok=True)
        pacsv.write_csv(first, inbox / "credit_h1.csv")
        pq.write_table(second, inbox / "credit_h2.parquet")
        narrator.say(
            f"{first.num_rows:,} rows → inbox/credit_h1.csv, "
            f"{second.num_rows:,} rows → inbox/credit_h2.parquet"
        )

        narrator.step("Ingest months 1-6 (CSV)")
        h1 = ingest(inbox / "credit_h1.csv", name="credit", project=project).version
        narrator.say(
            f"{h1.ref}: {h1.rows:,} rows, {h1.columns} columns, content {h1.content_hash[:12]}"
        )
        again = ingest(inbox / "credit_h1.csv", name="credit", project=project)
        narrator.say(
            f"the same file again → {again.version.ref} "
            f"({'new' if again.created else 'identical content, no new version'})"
        )

        narrator.step("A corrupted batch is refused by the dataset's validation rules")
        bad_path = inbox / "credit_bad.parquet"
        pq.write_table(_corrupt(second, seed), bad_path)
        rejected: list[Violation] = []
        try:
            ingest(bad_path, name="credit", project=project)
        except ValidationFailed as e:
            rejected = e.violations
            narrator.rejected(e)

        narrator.step("Train, evaluate and gate candidates on months 1-6")
        result = train(dataset_ref=h1.ref, project=project, progress=narrator.say)
        narrator.trained(result)
        card = None
        if result.model is not None:
            card = write_report(result.model.ref, root / "credit-model-card.html", project=project)
            narrator.say(f"model card: {card.name} (one HTML file, opens offline)")

        narrator.step("Ingest months 7-12 (Parquet)")
        h2 = ingest(inbox / "credit_h2.parquet", name="credit", project=project).version
        narrator.say(f"{h2.ref}: {h2.rows:,} rows, content {h2.content_hash[:12]}")

        narrator.step("What the stored profiles and the champion already show: the world changed")
        narrator.shift(_shift_rows(h1, h2))
        before = {"roc_auc": result.test["roc_auc"], "log_loss": result.test["log_loss"]}
        after = _champion_on(project, second) if result.model else {}
        if after:
            narrator.say(
                f"champion on months 7-12: predicts {after['predicted_rate']:.1%} defaults, "
                f"{after['observed_rate']:.1%} happen; log loss {before['log_loss']:.3f} → "
                f"{after['log_loss']:.3f}, ROC AUC {before['roc_auc']:.3f} → "
                f"{after['roc_auc']:.3f}: it still ranks, but its probabilities are wrong"
            )
        loop = None
        if result.model is not None:
            narrator.step(
                "Serve the champion over HTTP; replay a year of applications, labels 30 days late"
            )
            traffic = generate_credit(rows_per_month=traffic_rows, months=12, seed=seed + 1)
            loop = run_year(project, traffic, narrator, root / "credit-timeline.html")
        return DemoResult(
            project.root,
            [h1, h2],
            rejected,
            result.model.ref if result.model else None,
            card,
            before,
            after,
            loop,
            _champion_ref(project),
        )


def _corrupt(table: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = table.num_rows
    income = table.column("income").to_numpy().copy()
    income[rng.choice(n, 25, replace=False)] *= -1
    region = np.asarray(table.column("region").to_pylist(), dtype=object)
    region[rng.choice(n, 12, replace=False)] = "atlantis"
    ids = np.asarray(table.column("customer_id").to_pylist(), dtype=object)
    ids[1:6] = ids[0]
    return (
        table.set_column(table.schema.get_field_index("income"), "income", pa.array(income))
        .set_column(table.schema.get_field_index("region"), "region", pa.array(region, pa.string()))
        .set_column(0, "customer_id", pa.array(ids, pa.string()))
    )


def _shift_rows(before: DatasetVersion, after: DatasetVersion) -> list[tuple[str, str, str]]:
    rows = []
    for column, statistic in (
        ("income", "median"),
        ("utilisation", "median"),
        ("late_payments_12m", "mean"),
    ):
        a, b = (_statistic(v.profile["columns"][column], statistic) for v in (before, after))
        rows.append((f"{column} ({statistic})", _number(a), _number(b)))
    a, b = before.profile["columns"]["defaulted"], after.profile["columns"]["defaulted"]
    rows.append(("default rate", f"{_rate(a):.1%}", f"{_rate(b):.1%}"))
    return rows


def _champion_on(project: Project, rows: pa.Table) -> dict[str, float]:
    _version, bundle = load_model("credit@champion", project=project)
    scores = Predictor(bundle).scores(rows)
    labels = np.asarray(rows.column("defaulted").to_numpy(zero_copy_only=False), dtype=np.int64)
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "log_loss": float(log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "predicted_rate": float(scores.mean()),
        "observed_rate": float(labels.mean()),
    }


def _statistic(stats: dict[str, Any], statistic: str) -> float:
    return float(stats["quantiles"]["0.5"] if statistic == "median" else stats["mean"])


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _rate(stats: dict[str, int]) -> float:
    return stats["true"] / max(1, stats["true"] + stats["false"])


def _champion_ref(project: Project) -> str | None:
    try:
        return model_version("credit@champion", project=project).ref
    except ForgemlError:
        return None
