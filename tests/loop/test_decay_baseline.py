"""Decay is judged against a metric measured later than the training rows.

The champion learnt from time-stamped rows split at random, so its test metric (about
0.97 AUC) comes from its training rows' own period. Served afterwards, where the label
also depends on ``x2``, it ranks at about 0.7 AUC, steadily: that is not decay, and a
test-metric baseline would call it decay at every check. Its baseline is its first month
of labelled predictions instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forgeml.loop.triggers import check_triggers
from forgeml.monitor.baseline import decay_baseline
from forgeml.monitor.run import monitor
from forgeml.project import Project
from forgeml.registry import model_version
from loop.streams import CopyProject, build_template, serve_rows, stream

SPEC = """\
project: baseline
train:
  target: y
  exclude: [at]
  candidates: [logistic]
  budget: {trials: 2}
monitor: {window: 30d, metric: roc_auc, min_labels: 100}
policy:
  retrain_on: [performance]
"""
START = datetime(2025, 7, 1, tzinfo=UTC)
OLD, MIXED, NEW = (1.0, 0.0), (0.6, 0.8), (0.0, 1.0)
TWO_MONTHS = START + timedelta(days=60 + 8)  # every label of two months has arrived


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    past = stream(START - timedelta(days=180), 180, 3000, weights=OLD, seed=1)
    served = stream(START, 60, 1200, weights=MIXED, seed=2)
    return build_template(
        tmp_path_factory.mktemp("baseline") / "project",
        SPEC,
        "steady",
        past,
        lambda project: serve_rows(project, "steady@champion", served, prefix="a"),
    )


def test_a_steady_model_below_its_in_period_test_metric_has_not_decayed(
    project: Project,
) -> None:
    champion = model_version("steady@champion", project=project)
    assert champion.lineage["split"] != "time"
    tested = champion.metrics["test"]["roc_auc"]
    baseline = decay_baseline(project, champion, "roc_auc", now=TWO_MONTHS)
    assert baseline is not None and baseline.value is not None
    assert re.match(r"its first (5\d\d|6\d\d) labelled predictions", baseline.source)
    assert tested > 0.9 and baseline.value < tested - 0.15
    found = check_triggers(project, "steady", now=TWO_MONTHS, report=None)
    assert [f.fired for f in found] == [False], found
    assert "within noise of the baseline" in found[0].why, found[0].why
    assert "its first" in found[0].why


def test_decay_after_the_baseline_fires(copy_project: CopyProject) -> None:
    project = copy_project()
    later = stream(START + timedelta(days=60), 30, 600, weights=NEW, seed=3)
    serve_rows(project, "steady@champion", later, prefix="b")
    found = check_triggers(project, "steady", now=TWO_MONTHS + timedelta(days=30), report=None)
    assert [f.fired for f in found] == [True], found
    assert "worse beyond doubt" in found[0].why, found[0].why


def test_until_enough_labels_arrive_there_is_no_baseline_and_it_says_why(
    project: Project,
) -> None:
    early = START + timedelta(days=10)  # labels come a week late: about 60 so far
    found = check_triggers(project, "steady", now=early, report=None)
    assert [f.fired for f in found] == [False]
    assert found[0].why.startswith("no roc_auc baseline yet: its test rows were drawn at random")
    assert "so far)" in found[0].why, found[0].why


def test_the_monitoring_report_names_its_baseline(project: Project) -> None:
    report = monitor(
        "steady",
        project=project,
        start=START,
        end=TWO_MONTHS,
        window=timedelta(days=30),
        metric="roc_auc",
        alert=False,
    )
    assert report.baseline_source.startswith("its first"), report.baseline_source
    assert report.to_dict()["baseline_source"] == report.baseline_source
    assert not report.decayed  # the second month ranks as the first did
