"""The mlp candidate: how it reads the features, its early stopping and deadline, that a
seed repeats it, that it beats the trivial baseline, and that a registered network scores
in serving as it was trained, loaded without pickle."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from sklearn.metrics import log_loss

from forgeml.config import SPEC_FILE, TrainSpec
from forgeml.data import ingest
from forgeml.features import FeaturePipeline
from forgeml.flavors.nets import TabularNet
from forgeml.project import Project
from forgeml.registry import load_bundle, model_version
from forgeml.serve.scoring import Scorer
from forgeml.training.baseline import baseline_metrics
from forgeml.training.candidates import candidate
from forgeml.training.mlp import MAX_EPOCHS, PATIENCE, Layout
from forgeml.training.predict import Predictor
from forgeml.training.task import TargetInfo
from forgeml.training.trainer import train

pytestmark = pytest.mark.usefixtures("one_thread_each")

SCHEMA = {
    "columns": [
        {"name": "a", "kind": "float"},
        {"name": "b", "kind": "float"},
        {"name": "plan", "kind": "category"},
    ]
}


def _table(n: int, seed: int = 5, task: str = "binary") -> pa.Table:
    """A target from two numbers (one with missing values) and a category (one missing)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    effect = np.select([plan == "pro", plan == "plus"], [1.5, 0.5], 0.0)
    signal = a + 0.5 * b + effect + 0.3 * rng.normal(size=n)
    a_values: list[float | None] = a.tolist()
    for i in range(0, n, 9):
        a_values[i] = None
    plan_values: list[str | None] = plan.tolist()
    plan_values[3] = None
    target: np.ndarray
    if task == "binary":
        target = signal > 0.5
    elif task == "multiclass":
        target = np.digitize(signal, [0.0, 1.0])
    else:
        target = signal
    return pa.table(
        {
            "a": pa.array(a_values, pa.float64()),
            "b": b,
            "plan": pa.array(plan_values, pa.string()),
            "y": target,
        }
    )


def _matrices(
    n: int, task: str
) -> tuple[FeaturePipeline, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    table = _table(n, task=task)
    train_rows = table.slice(0, n * 3 // 4)
    pipe = FeaturePipeline.fit(train_rows, SCHEMA, target=None, strategy="tree")
    x = pipe.transform(table.drop_columns(["y"]))
    y = table.column("y").to_numpy(zero_copy_only=False)
    y = y.astype(np.float64 if task == "regression" else np.int64)
    cut = n * 3 // 4
    return pipe, x[:cut], y[:cut], x[cut:], y[cut:]


def _project(root: Path, train_spec: str, table: pa.Table) -> Project:
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(f"train:\n{train_spec}")
    project = Project.init(root)
    ingest(table, name="data", project=project)
    return project


def test_category_codes_are_embedded_and_numbers_standardised() -> None:
    pipe, x, y, x_valid, y_valid = _matrices(400, "binary")
    assert Layout.of(pipe, x.shape[1]) == Layout(numeric=[0, 1], categorical=[2], cardinalities=[4])
    params = {"batch_size": 100}
    fitted = candidate("mlp").fit("binary", params, 0, None, x, y, x_valid, y_valid, pipeline=pipe)
    net = fitted.estimator
    assert isinstance(net, TabularNet) and not net.training
    assert net.state_dict()["embeddings.0.weight"].shape[0] == 5  # 3 plans, "other", missing
    assert net.flagged == [0]  # only a has missing values
    np.testing.assert_allclose(net.mean.numpy(), [np.nanmean(x[:, 0]), x[:, 1].mean()], 1e-5)
    # a missing plan and a plan never seen score like any row: no NaN, no index error
    rows = torch.tensor([[0.1, 0.2, float("nan")], [0.1, 0.2, 99.0], [float("nan"), 0, 1]])
    out = net(rows).detach().numpy()
    assert out.shape == (3, 1) and np.isfinite(out).all() and ((out > 0) & (out < 1)).all()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_it_stops_early_on_the_validation_rows_and_a_seed_repeats_it(task: str) -> None:
    pipe, x, y, x_valid, y_valid = _matrices(600, task)
    cand = candidate("mlp")
    params = {"width": 32, "layers": 1, "batch_size": 100}
    first = cand.fit(task, params, 3, None, x, y, x_valid, y_valid, pipeline=pipe)
    again = cand.fit(task, params, 3, None, x, y, x_valid, y_valid, pipeline=pipe)
    other = cand.fit(task, params, 4, None, x, y, x_valid, y_valid, pipeline=pipe)
    assert first.best_iteration is not None and 1 <= first.best_iteration < MAX_EPOCHS - PATIENCE
    assert not first.stopped
    assert first.valid_scores is not None and again.valid_scores is not None
    assert other.valid_scores is not None
    np.testing.assert_array_equal(first.valid_scores, again.valid_scores)
    assert not np.array_equal(first.valid_scores, other.valid_scores)
    expected_shape = (len(x_valid), 3) if task == "multiclass" else (len(x_valid),)
    assert first.valid_scores.shape == expected_shape
    classes = {"binary": [False, True], "multiclass": [0, 1, 2]}.get(task)
    baseline = baseline_metrics(TargetInfo("y", task, classes), y, y_valid, TrainSpec())  # type: ignore[arg-type]
    if task == "regression":
        rmse = float(np.sqrt(np.mean((first.valid_scores - y_valid) ** 2)))
        assert rmse < 0.6 * baseline["rmse"]
    else:
        loss = log_loss(
            y_valid, first.valid_scores, labels=[0, 1, 2][: 2 if task == "binary" else 3]
        )
        assert loss < 0.7 * baseline["log_loss"]


def test_the_deadline_ends_training_between_batches_keeping_a_network() -> None:
    pipe, x, y, x_valid, y_valid = _matrices(600, "binary")
    began = time.monotonic()
    fitted = candidate("mlp").fit(
        "binary", {}, 0, "balanced", x, y, x_valid, y_valid, deadline=began, pipeline=pipe
    )
    assert fitted.stopped and fitted.best_iteration == 1
    assert fitted.valid_scores is not None and np.isfinite(fitted.valid_scores).all()


def test_it_is_searched_only_when_listed_and_a_missing_torch_names_the_extra() -> None:
    assert "mlp" not in TrainSpec().candidates
    code = (
        "from forgeml.registry.libraries import unimportable\n"
        "from forgeml.errors import MissingDependency\n"
        "with unimportable(['torch']):\n"
        "    from forgeml.training.candidates import candidate\n"
        "    try:\n"
        "        candidate('mlp')\n"
        "    except MissingDependency as e:\n"
        "        print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert "The mlp candidate needs the package 'torch'" in done.stdout
    assert "pip install 'forgeml[torch]'" in done.stdout


def test_a_trained_network_is_registered_served_and_loaded_without_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = _table(700)
    spec = "  target: y\n  candidates: [mlp]\n  budget: {trials: 2, time: 5m}\n"
    project = _project(tmp_path / "p", spec, table)
    result = train(project=project)
    assert result.candidate == "mlp" and result.model is not None and result.gate.passed
    assert [t.state for t in result.trials] == ["complete", "complete"]
    assert result.test["roc_auc"] > 0.85  # the baseline's is 0.5
    assert result.bundle is not None and result.bundle.flavor == "torch"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    version = model_version("data@champion", project=project)
    assert version.flavor == "torch"
    stored = load_bundle(version.artifact_sha256, project.artifacts)
    rows = table.slice(0, 60)
    assert rows.column("a").null_count and rows.column("plan").null_count
    expected = Predictor(result.bundle).scores(rows)
    np.testing.assert_array_equal(Predictor(stored).scores(rows), expected)

    scorer = Scorer(version, stored)
    served = scorer.score(scorer.read(rows.drop_columns(["y"]).to_pylist()))
    np.testing.assert_allclose(served.scores, expected, rtol=0, atol=1e-6)
    assert served.labels is not None and len(served.labels) == 60
    project.close()
