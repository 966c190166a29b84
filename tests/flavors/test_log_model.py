"""forgeml.log_model: each flavor is registered, loaded back without pickle, and predicts
what the object it came from predicts."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import torch

import forgeml
from forgeml.errors import ConfigError, MissingDependency, ModelCannotPredict
from forgeml.flavors.nets import MLP, SmallCNN
from forgeml.project import Project
from forgeml.registry import load_bundle, model_version
from forgeml.registry.bundle import read_manifest

Table = tuple[pd.DataFrame, np.ndarray]


def test_a_scikit_learn_pipeline_is_logged_and_predicts_like_itself(
    byo_project: Project, table: Table
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    frame, y = table
    columns = ColumnTransformer(
        [
            ("ab", make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"]),
            ("c", MinMaxScaler(), ["c"]),
        ]
    )
    pipe = make_pipeline(columns, LogisticRegression()).fit(frame, y)
    version = forgeml.log_model(pipe, name="pipe", signature_from=frame, project=byo_project)
    assert (version.flavor, version.signature["task"]) == ("sklearn", "binary")
    assert [c["name"] for c in version.signature["inputs"]] == ["a", "b", "c"]
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    assert manifest["formats"] == {"model": "skops"}
    loaded = forgeml.load_model("pipe@1", project=byo_project)
    assert loaded.predict(frame).tolist() == pipe.predict(frame).tolist()
    np.testing.assert_allclose(loaded.predict_proba(frame), pipe.predict_proba(frame))


def test_a_pipeline_step_that_holds_a_function_is_refused(
    byo_project: Project, table: Table
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame, y = table
    pipe = make_pipeline(FunctionTransformer(np.tanh), LogisticRegression()).fit(frame, y)
    with pytest.raises(ConfigError, match=r"numpy\.tanh \(a FunctionNode\)"):
        forgeml.log_model(pipe, name="fn", signature_from=frame, project=byo_project)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_boosted_trees_are_logged_in_their_own_format(
    byo_project: Project, table: Table, library: str
) -> None:
    frame, y = table
    if library == "lightgbm":
        import lightgbm

        model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame, y)
    else:
        import xgboost

        model = xgboost.XGBClassifier(n_estimators=5).fit(frame, y)
    version = forgeml.log_model(model, name=library, signature_from=frame, project=byo_project)
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    assert manifest["formats"]["model"] in ("lightgbm-text", "xgboost-json")
    loaded = forgeml.load_model(version.ref, project=byo_project)
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), atol=1e-6)


def test_a_torch_module_loads_with_pickle_refused(
    byo_project: Project, table: Table, no_pickle: None
) -> None:
    frame, _ = table
    torch.manual_seed(0)
    net = MLP(inputs=3, outputs=1, hidden=[8])
    version = forgeml.log_model(
        net,
        name="mlp",
        signature_from=frame,
        task="binary",
        classes=[0, 1],
        project=byo_project,
    )
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    assert manifest["formats"] == {"model": "safetensors", "architecture": "json"}
    loaded = forgeml.load_model(version.ref, project=byo_project)  # pickle raises here
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.tensor(frame.to_numpy(), dtype=torch.float32)))
    np.testing.assert_allclose(
        loaded.predict_proba(frame)[:, 1], expected.numpy().ravel(), atol=1e-6
    )


def test_a_tensor_model_has_a_tensor_signature(byo_project: Project) -> None:
    torch.manual_seed(0)
    cnn = SmallCNN(channels=1, size=8, classes=3, width=4)
    images = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    version = forgeml.log_model(
        cnn,
        name="cnn",
        signature_from=images,
        task="multiclass",
        classes=["a", "b", "c"],
        project=byo_project,
    )
    assert version.signature["tensors"] == [
        {"name": "input", "dtype": "float32", "shape": [-1, 1, 8, 8]}
    ]
    loaded = forgeml.load_model("cnn", project=byo_project)
    with torch.no_grad():
        logits = cnn(torch.from_numpy(images)).numpy()
    assert loaded.predict(images).tolist() == [["a", "b", "c"][i] for i in logits.argmax(1)]
    with pytest.raises(forgeml.errors.DataError, match=r"shape \[-1, 1, 8, 8\]"):
        loaded.predict(np.zeros((2, 8, 8), dtype=np.float32))


def test_a_module_defined_in_main_is_refused_with_the_fix(byo_project: Project) -> None:
    class Local(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(ConfigError, match="cannot be imported by name"):
        forgeml.log_model(
            Local(),
            name="local",
            signature_from=np.zeros((1, 2), dtype=np.float32),
            task="regression",
            project=byo_project,
        )


def test_an_onnx_model_is_stored_as_is_and_served_by_onnxruntime(
    byo_project: Project, table: Table
) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    frame, y = table
    x = frame.to_numpy(dtype=np.float32)
    fitted = LogisticRegression().fit(x, y)
    onx = to_onnx(fitted, x[:1], options={id(fitted): {"zipmap": False}})
    version = forgeml.log_model(
        onx, name="onnx", signature_from=x, task="binary", classes=[0, 1], project=byo_project
    )
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    stored = byo_project.artifacts.get_bytes(manifest["parts"]["model"])
    assert stored == onx.SerializeToString()
    loaded = forgeml.load_model(version.ref, project=byo_project)
    np.testing.assert_allclose(loaded.predict_proba(x), fitted.predict_proba(x), atol=1e-5)


def test_a_model_that_cannot_predict_its_signature_is_not_registered(
    byo_project: Project,
) -> None:
    net = MLP(inputs=3, outputs=1, hidden=[4])
    with pytest.raises(ModelCannotPredict):
        forgeml.log_model(
            net,
            name="wrong",
            signature_from=np.zeros((2, 5), dtype=np.float32),
            task="binary",
            classes=[0, 1],
            project=byo_project,
        )
    with pytest.raises(forgeml.errors.NotFound):
        model_version("wrong", project=byo_project)


def test_a_missing_extra_is_named(byo_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from forgeml.flavors import require

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingDependency, match=r"pip install 'forgeml\[onnx\]'"):
        require("onnx", "An ONNX model")


def test_the_run_and_dataset_are_recorded(byo_project: Project, table: Table) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, y = table
    labelled = frame.assign(label=y)
    stored = forgeml.ingest(labelled, name="rows", project=byo_project).version
    model = LogisticRegression().fit(frame, y)
    with forgeml.start_run(experiment="own", project=byo_project) as run:
        version = forgeml.log_model(
            model,
            name="tracked",
            signature_from=frame,
            run=run,
            dataset=stored.ref,
            target="label",
            metrics={"auc": 0.9},
            project=byo_project,
        )
    assert version.run_id == run.id
    assert version.lineage["dataset"] == stored.ref
    assert version.metrics == {"auc": 0.9}
    bundle = load_bundle(version.artifact_sha256, byo_project.artifacts)
    assert bundle.extras["byo"] is True


def test_an_open_run_gets_the_model_params_and_training_curves(
    byo_project: Project, table: Table
) -> None:
    import lightgbm

    from forgeml.training.autolog import TorchLog
    from forgeml.training.run_records import metric_history
    from forgeml.training.tracking import get_run

    frame, y = table
    with forgeml.start_run(experiment="auto", project=byo_project) as run:
        model = lightgbm.LGBMClassifier(n_estimators=4, learning_rate=0.2, verbose=-1)
        if "eval_X" in inspect.signature(model.fit).parameters:  # LightGBM >= 4.7
            model.fit(frame, y, eval_X=(frame,), eval_y=(y,))
        else:
            model.fit(frame, y, eval_set=[(frame, y)])
        forgeml.log_model(model, name="auto", signature_from=frame, run=run, project=byo_project)
    with forgeml.start_run(experiment="auto", project=byo_project) as loop:
        net = MLP(inputs=3, outputs=1, hidden=[4])
        log = TorchLog(loop, net, torch.optim.SGD(net.parameters(), lr=0.05), epochs=2)
        for step in range(2):
            log.epoch(step, loss=1.0 / (step + 1))
    recorded = get_run(run.id, project=byo_project)
    assert recorded.params["model.learning_rate"] == 0.2
    assert recorded.params["model.n_estimators"] == 4
    assert get_run(loop.id, project=byo_project).params["optimizer.lr"] == 0.05
    curve = metric_history(run.id, "valid_0/binary_logloss", project=byo_project)
    assert len(curve) == 4
    assert metric_history(loop.id, "loss", project=byo_project) == [(0, 1.0), (1, 0.5)]


def test_a_logged_version_has_a_card_that_says_what_it_is(
    byo_project: Project, table: Table
) -> None:
    from sklearn.linear_model import LogisticRegression

    from forgeml.training.report import model_card

    frame, y = table
    model = LogisticRegression().fit(frame, y)
    version = forgeml.log_model(
        model,
        name="carded",
        signature_from=frame,
        metrics={"roc_auc": 0.8125, "curve": [1, 2]},
        project=byo_project,
    )
    html = model_card(version.ref, project=byo_project)
    assert "carded v1" in html
    for label, value in (("Task", "binary"), ("Flavor", "sklearn"), ("Classes", "")):
        assert f"<dt>{label}</dt><dd>{value}" in html, label
    assert "0.8125" in html  # the metric given at logging, without the nested curve
    assert "<dt>Created by</dt>" in html and "UTC</dd>" in html
