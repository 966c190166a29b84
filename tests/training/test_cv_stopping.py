"""With cross-validation, a boosted model never stops early on the rows its fold is scored on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.config import SPEC_FILE
from forgeml.data import ingest
from forgeml.project import Project
from forgeml.training.candidates import Candidate
from forgeml.training.fitting import Matrices, evaluate_trial
from forgeml.training.plan import plan_training
from forgeml.training.splits import cv_folds

pytestmark = pytest.mark.usefixtures("one_thread_each")


def _plan(root: Path, candidates: str) -> Any:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 3))
    y = x[:, 0] + rng.normal(size=600) > 0
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(
        f"train:\n  target: y\n  candidates: [{candidates}]\n  budget: {{trials: 1}}\n"
    )
    project = Project.init(root)
    ingest(pa.table({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y}), name="d", project=project)
    return plan_training(
        dataset_ref=None, project=project, target=None, exclude=(), say=lambda _t: None
    )


def _rows(x: np.ndarray) -> set[tuple[float, ...]]:
    return {tuple(row) for row in np.round(x, 12)}


@pytest.mark.parametrize("name", ["lightgbm", "xgboost"])
def test_each_fold_stops_on_its_own_training_rows(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(tmp_path / "p", name)
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    original = Candidate.fit

    def recording(self: Candidate, task: str, params: Any, seed: int, cw: Any, x: Any, y: Any,
                  x_valid: Any = None, y_valid: Any = None, **kwargs: Any) -> Any:  # fmt: skip
        calls.append((x, x_valid))
        return original(self, task, params, seed, cw, x, y, x_valid, y_valid, **kwargs)

    monkeypatch.setattr(Candidate, "fit", recording)
    matrices = Matrices(plan)
    score = evaluate_trial(
        plan, plan.candidates[name], {}, matrices, True, lambda *_: None, None, None
    )
    assert 0.5 < score < 1.0
    split = plan.split
    rows = np.concatenate([split.train, split.valid])
    folds = cv_folds(plan.table, rows, plan.spec.split, plan.info, seed=plan.spec.seed)
    assert len(calls) == len(folds) == plan.spec.split.cv_folds
    for number, ((fit_x, stop_x), (train, valid)) in enumerate(zip(calls, folds, strict=True)):
        _pipe, x_train, x_valid = matrices.get(plan.candidates[name].strategy, number, train, valid)
        scored, stopping, fitted = _rows(x_valid), _rows(stop_x), _rows(fit_x)
        assert not stopping & scored, f"fold {number} stopped early on rows it was scored on"
        assert stopping | fitted == _rows(x_train) and not stopping & fitted
        assert len(stop_x) == pytest.approx(0.2 * len(x_train), abs=1)


def test_the_finalists_are_scored_again_on_redrawn_folds(tmp_path: Path) -> None:
    from forgeml.training.trainer import train

    plan = _plan(tmp_path / "p", "lightgbm, xgboost")  # within reach of each other here
    said: list[str] = []
    result = train(project=plan.project, trials=6, progress=said.append)
    redrawn = result.context["search"]["finalists"]
    assert set(redrawn) == {"lightgbm", "xgboost"}, said
    line = next(s for s in said if s.startswith("finalists on redrawn folds:"))
    assert line.endswith(f": {result.candidate}")
    chosen = max(redrawn, key=lambda name: redrawn[name])  # roc_auc: higher is better
    assert result.candidate == chosen
    # the winner keeps the score its search trial had on the search's folds
    searched = [t.score for t in result.trials if t.candidate == chosen and t.score is not None]
    assert result.context["search"]["best"]["score"] == max(searched)
