"""Windowed metrics and change detection on real logged predictions and feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from forgeml.errors import ConfigError
from forgeml.monitor.performance import change_points, labelled_rows, window_metrics
from forgeml.project import Project
from forgeml.serve.predlog import PredictionLog, labelled_predictions

START = datetime(2025, 1, 1, tzinfo=UTC)


def _log_year(project: Project, *, task: str = "binary") -> None:
    rng = np.random.default_rng(3)
    with PredictionLog(project, "credit", [{"name": "x", "kind": "float"}]) as log:
        for day in range(40):
            n = 100
            scores = rng.uniform(0.05, 0.6, n)
            rate = scores if day < 20 else np.clip(scores + 0.35, 0, 1)  # the world changed
            truth = rng.random(n) < rate
            ids = [f"d{day}-{i}" for i in range(n)]
            at = (START + timedelta(days=day)).timestamp()
            if task == "binary":
                log.log_predictions(
                    ids=ids,
                    version=1,
                    arm="champion",
                    inputs={"x": list(scores)},
                    scores=scores,
                    labels=list(scores >= 0.5),
                    latency_ms=1.0,
                    time=at,
                )
                log.log_feedback(ids, list(truth), time=at + 30 * 86400)
            else:
                predicted = scores * 10
                actual = predicted + rng.normal(0, 1 if day < 20 else 4, n)
                log.log_predictions(
                    ids=ids,
                    version=1,
                    arm="champion",
                    inputs={"x": list(scores)},
                    scores=predicted,
                    labels=None,
                    latency_ms=1.0,
                    time=at,
                )
                log.log_feedback(ids, list(actual), time=at + 86400)


def test_windows_show_the_decay_and_adwin_finds_when(sqlite_project: Project) -> None:
    _log_year(sqlite_project)
    joined = labelled_predictions(sqlite_project, "credit")
    rows = labelled_rows(joined, task="binary", classes=[False, True])
    assert len(rows) == 4000
    windows = [
        (START + timedelta(days=d), START + timedelta(days=d + 10)) for d in range(0, 40, 10)
    ]
    metrics = window_metrics(rows, windows)
    assert [w.rows for w in metrics] == [1000] * 4
    losses = [w.metrics["log_loss"] for w in metrics]
    assert max(losses[:2]) < min(losses[2:])
    assert metrics[3].metrics["positive_rate"] > metrics[0].metrics["positive_rate"] + 0.2
    points = change_points(rows)
    assert points, "the change at day 20 was not detected"
    first = points[0].time
    assert START + timedelta(days=19) <= first.replace(tzinfo=UTC) <= START + timedelta(days=26)
    assert points[0].after > points[0].before
    assert window_metrics(rows, [(START - timedelta(days=9), START)])[0].rows == 0
    with pytest.raises(ConfigError, match="unknown"):
        change_points(rows, detector="magic")


def test_regression_errors(sqlite_project: Project) -> None:
    _log_year(sqlite_project, task="regression")
    rows = labelled_rows(
        labelled_predictions(sqlite_project, "credit"), task="regression", classes=None
    )
    early, late = window_metrics(
        rows,
        [
            (START, START + timedelta(days=20)),
            (START + timedelta(days=20), START + timedelta(days=40)),
        ],
    )
    assert late.metrics["rmse"] > 3 * early.metrics["rmse"]
    assert change_points(rows, detector="page_hinkley")
