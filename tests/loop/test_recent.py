"""A cycle started by decay also tries a challenger that learns from the recent rows only.

Until July the label follows ``x1``; from July it follows ``-x1``: a sudden flip. The
champion learnt the old rule from 180 days of rows; the log holds two months of the new
one, labelled a week late. A challenger that learns from everything so far is outvoted by
the old rows and ranks like the champion; one that learns from the last month beats it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgeml.data.ingest import ingest
from forgeml.data.versions import dataset
from forgeml.loop.cycle import retrain
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.serve.predlog import PredictionLog
from forgeml.training.predict import Predictor
from forgeml.training.trainer import train

SPEC = """\
project: flip
train:
  target: y
  exclude: [at]
  candidates: [logistic]
  budget: {trials: 2}
monitor: {window: 30d, metric: roc_auc, min_labels: 100}
policy:
  evaluate_on: 10d
  data: {mode: all, min_rows: 200, recent: 30d}
  rollout: {mode: direct}
"""
FLIP = datetime(2025, 7, 1, tzinfo=UTC)
AFTER = datetime(2025, 9, 30, tzinfo=UTC)
LATE = timedelta(days=7)


def stream(start: datetime, days: int, rows: int, *, sign: float, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = sign * x1 + 0.3 * rng.normal(size=rows) > 0
    offsets = np.sort(rng.uniform(0, days * 86400, size=rows))
    at = [start + timedelta(seconds=float(s)) for s in offsets]
    return pa.table({"x1": x1, "x2": x2, "at": pa.array(at, pa.timestamp("us", "UTC")), "y": y})


def serve_rows(project: Project, rows: pa.Table) -> None:
    """Serve ``rows`` with the champion at their time; each label arrives a week later."""
    version, bundle = load_model("flip@champion", project=project)
    scores = Predictor(bundle).scores(rows)
    times = [t.timestamp() for t in rows.column("at").to_pylist()]
    truth = rows.column("y").to_pylist()
    with PredictionLog(project, "flip", version.signature["inputs"]) as log:
        for i in range(rows.num_rows):
            log.log_predictions(
                ids=[f"r{i}"],
                version=version.version,
                arm="champion",
                inputs={"x1": [rows["x1"][i].as_py()], "x2": [rows["x2"][i].as_py()]},
                scores=scores[i : i + 1],
                labels=[bool(scores[i] >= 0.5)],
                latency_ms=1.0,
                time=times[i],
            )
            log.log_feedback([f"r{i}"], [truth[i]], time=times[i] + LATE.total_seconds())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flip") / "project"
    root.mkdir(parents=True)
    (root / "forgeml.yaml").write_text(SPEC)
    project = Project.init(root)
    past = stream(FLIP - timedelta(days=180), 180, 6000, sign=1.0, seed=1)
    version = ingest(past, name="flip", project=project).version
    assert train(dataset_ref=version.ref, project=project).model is not None
    serve_rows(project, stream(FLIP, 61, 1200, sign=-1.0, seed=2))
    project.close()
    return root


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(template, root)
    found = Project.load(root)
    yield found
    found.close()


def _spec(project: Project, old: str, new: str) -> Project:
    path = project.root / "forgeml.yaml"
    path.write_text(path.read_text().replace(old, new))
    project.close()
    return Project.load(project.root)


def test_after_a_sudden_flip_the_challenger_on_recent_rows_is_kept(project: Project) -> None:
    cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
    assert cycle.status == "promoted", cycle.reason
    # the model now serving ranks fresh rows of the new rule well
    fresh = stream(AFTER, 10, 400, sign=-1.0, seed=3)
    _, bundle = load_model("flip@champion", project=project)
    scores = Predictor(bundle).scores(fresh)
    y = np.asarray(fresh.column("y").to_pylist(), dtype=bool)
    pairs = scores[y][:, None] > scores[~y][None, :]
    assert pairs.mean() > 0.8
    details = cycle.details
    both = details["comparisons"]
    # on the same held-out rows: the one on everything ranks like the champion, the
    # recent one beats it beyond doubt
    assert not both["everything"]["conclusive"], both["everything"]
    assert both["recent"]["conclusive"], both["recent"]
    assert (
        both["recent"]["challenger"]["roc_auc"] > 0.8 > both["everything"]["challenger"]["roc_auc"]
    )
    assert details["learnt_from"] == "recent"
    assert "learnt from the recent rows only" in cycle.reason
    assert "learnt from everything so far had" in cycle.reason
    champion = model_version("flip@champion", project=project)
    assert champion.version == details["challenger"] == details["recent_challenger"]
    # it learnt from the newest rows before the held-out ones only: all after the flip
    learnt = dataset(str(champion.signature["dataset"]), project=project).to_arrow()
    assert learnt.num_rows == details["recent_rows"] == details["train_rows"]
    assert 200 <= learnt.num_rows < 1200


def test_a_cycle_on_new_labels_trains_one_challenger(project: Project) -> None:
    cycle = retrain("flip", project=project, now=AFTER, trigger="new_labels", key="k1")
    assert "recent_dataset" not in cycle.details and "comparisons" not in cycle.details
    assert "recent_challenger" not in cycle.details


def test_the_recent_challenger_can_be_turned_off(project: Project) -> None:
    project = _spec(project, "recent: 30d", "recent: null")
    try:
        cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
        assert "recent_challenger" not in cycle.details, cycle.details
        assert cycle.details["learnt_from"] == "everything"
    finally:
        project.close()


def test_when_the_challenger_on_everything_fails_its_gate_the_recent_one_is_judged(
    project: Project,
) -> None:
    # a floor the mix of both rules cannot reach on its own test rows, the new rule alone can
    project = _spec(project, "policy:", "gate:\n  metrics: {roc_auc: {min: 0.9}}\npolicy:")
    try:
        cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
        details = cycle.details
        assert details["challenger"] == details["recent_challenger"] > 0, cycle.reason
        assert "roc_auc" in details["failed"]
        assert cycle.status == "promoted" and details["learnt_from"] == "recent", cycle.reason
    finally:
        project.close()
