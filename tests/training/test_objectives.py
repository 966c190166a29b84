"""A count target is also searched with LightGBM's Poisson objective; other targets are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.project import Project
from forgeml.registry import load_model
from forgeml.training.predict import Predictor
from forgeml.training.trainer import TrainResult, train

pytestmark = pytest.mark.usefixtures("one_thread_each")


def _train(root: Path, y: np.ndarray, x: np.ndarray) -> tuple[Project, TrainResult]:
    root.mkdir()
    (root / SPEC_FILE).write_text(
        "train:\n  target: y\n  task: regression\n  candidates: [lightgbm]\n  budget: {trials: 4}\n"
    )
    project = Project.init(root)
    ingest(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), name="data", project=project)
    return project, train(project=project)


def test_a_count_target_gets_a_poisson_trial_and_its_model_serves(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 2))
    counts = rng.poisson(np.exp(0.8 * x[:, 0] + 0.3 * x[:, 1])).astype(np.float64)
    project, result = _train(tmp_path / "counts", counts, x)
    objectives = [t.params.get("objective") for t in result.trials]
    assert objectives[0] is None and objectives[1] == "poisson", objectives
    poisson = next(t for t in result.trials if t.params.get("objective") == "poisson")
    assert poisson.state == "complete" and poisson.score is not None
    if result.params.get("objective") == "poisson":
        assert result.model is not None
        _version, bundle = load_model(result.model.ref, project=project)
        served = Predictor(bundle).scores(pa.table({"a": x[:5, 0], "b": x[:5, 1]}))
        assert np.all(served > 0)  # a Poisson model predicts a positive mean
    project.close()


def test_a_target_that_is_not_a_count_is_searched_with_squared_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 2))
    project, result = _train(tmp_path / "values", x[:, 0] * 2.5 + rng.normal(size=3000), x)
    assert all("objective" not in t.params for t in result.trials)
    project.close()
