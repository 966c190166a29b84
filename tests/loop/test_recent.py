"""A cycle started by decay also tries a challenger that learns from the recent rows only.

Until July the label follows ``x1``; from July it follows ``-x1``: a sudden flip. The
champion learnt the old rule from 180 days of rows; the log holds two months of the new
one, labelled a week late. A challenger that learns from everything so far is outvoted by
the old rows and ranks like the champion; one that learns from the last month beats it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from forgeml.data.versions import dataset
from forgeml.loop.cycle import retrain
from forgeml.loop.triggers import check_triggers, triggers
from forgeml.project import Project
from forgeml.registry import load_model, model_version
from forgeml.training.predict import Predictor
from loop.streams import CopyProject, build_template, serve_rows, stream

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
BEFORE, SINCE = (1.0, 0.0), (-1.0, 0.0)  # the label follows x1, then -x1


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    past = stream(FLIP - timedelta(days=180), 180, 6000, weights=BEFORE, seed=1)
    served = stream(FLIP, 61, 1200, weights=SINCE, seed=2)
    return build_template(
        tmp_path_factory.mktemp("flip") / "project",
        SPEC,
        "flip",
        past,
        lambda project: serve_rows(project, "flip@champion", served),
    )


def test_after_a_sudden_flip_the_challenger_on_recent_rows_is_kept(project: Project) -> None:
    cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
    assert cycle.status == "promoted", cycle.reason
    # the model now serving ranks fresh rows of the new rule well
    fresh = stream(AFTER, 10, 400, weights=SINCE, seed=3)
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


def test_the_recent_challenger_can_be_turned_off(copy_project: CopyProject) -> None:
    project = copy_project(("recent: 30d", "recent: null"))
    cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
    assert "recent_challenger" not in cycle.details, cycle.details
    assert cycle.details["learnt_from"] == "everything"


def test_when_the_challenger_on_everything_fails_its_gate_the_recent_one_is_judged(
    copy_project: CopyProject,
) -> None:
    # a floor the mix of both rules cannot reach on its own test rows, the new rule alone can
    project = copy_project(("policy:", "gate:\n  metrics: {roc_auc: {min: 0.9}}\npolicy:"))
    cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
    details = cycle.details
    assert details["challenger"] == details["recent_challenger"] > 0, cycle.reason
    assert "roc_auc" in details["failed"]
    assert cycle.status == "promoted" and details["learnt_from"] == "recent", cycle.reason


def test_new_labels_after_a_recent_champion_count_against_every_labelled_row(
    copy_project: CopyProject,
) -> None:
    project = copy_project(("policy:\n", "policy:\n  retrain_on: [new_labels]\n"))
    cycle = retrain("flip", project=project, now=AFTER, trigger="performance", key="k1")
    assert cycle.details["learnt_from"] == "recent", cycle.reason
    learnt = cycle.details["train_rows"]
    serve_rows(project, "flip@champion", stream(AFTER, 15, 300, weights=SINCE, seed=4), prefix="n")
    # 300 new rows: over 10% of the few the champion learnt from, 4% of all there are
    assert learnt < 3000
    [found] = check_triggers(project, "flip", now=AFTER + timedelta(days=25), report=None)
    assert not found.fired
    assert found.why.startswith("300 labelled rows @"), found.why
    assert "(4% of the 7500 labelled rows so far); it needs 750" in found.why, found.why
    later = stream(AFTER + timedelta(days=15), 15, 600, weights=SINCE, seed=5)
    serve_rows(project, "flip@champion", later, prefix="m")
    assert triggers(project, "flip", now=AFTER + timedelta(days=40), report=None) == ["new_labels"]
