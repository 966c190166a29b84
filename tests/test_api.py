"""The top-level Python API as a scikit-learn user writes it: forgeml.train(...) with keyword
arguments, forgeml.load_model("name@champion").predict(X), and short, one-line reprs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from threadpoolctl import threadpool_limits

import forgeml
from forgeml.errors import ConfigError, DataError
from forgeml.project import Project


@pytest.fixture
def one_thread(sqlite_project: Project) -> Iterator[Project]:
    with threadpool_limits(limits=1):  # tests run two at a time on two cores
        yield sqlite_project


def _cancer() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns={"target": "benign"})


def test_train_then_load_model_and_predict_from_any_table(one_thread: Project) -> None:
    frame = _cancer()
    result = forgeml.train(frame, target="benign", name="cancer", trials=1, project=one_thread)

    assert result.model is not None and result.model.aliases == ["champion"]
    assert repr(result).startswith("<TrainResult ") and "cancer@1" in repr(result)
    for ref in ("cancer@champion", "cancer@1", "cancer"):
        assert forgeml.load_model(ref, project=one_thread).version == 1
    model = forgeml.load_model("cancer@champion", project=one_thread)
    assert (model.name, model.ref, model.task, model.classes) == (
        "cancer",
        "cancer@1",
        "binary",
        [0, 1],
    )
    assert [c["name"] for c in model.schema] == model.inputs == list(frame.columns[:-1])
    assert model.metrics["test"]["roc_auc"] == result.test["roc_auc"]
    assert repr(model) == "<Model cancer@1 (champion) binary, 30 inputs>"

    x = frame.drop(columns="benign")
    predicted = model.predict(x)
    assert set(predicted.tolist()) == {0, 1}
    assert (predicted == frame["benign"].to_numpy()).mean() > 0.9
    for same in (pl.from_pandas(x), pa.Table.from_pandas(x), x.to_numpy()):
        assert model.predict(same).tolist() == predicted.tolist()
    proba = model.predict_proba(x)
    assert proba.shape == (len(x), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    threshold = model._predictor.threshold
    assert ((proba[:, 1] >= threshold).astype(int) == predicted).all()


def test_classifiers_predict_class_values_and_regressors_values(one_thread: Project) -> None:
    iris = load_iris(as_frame=True).frame
    species = iris.pop("target").map({0: "setosa", 1: "versicolor", 2: "virginica"})
    iris["species"] = species
    forgeml.train(iris, target="species", name="iris", trials=1, project=one_thread)
    model = forgeml.load_model("iris", project=one_thread)
    x = iris.drop(columns="species")
    assert model.classes == ["setosa", "versicolor", "virginica"]
    assert set(model.predict(x).tolist()) <= set(model.classes)
    assert (model.predict(x) == species.to_numpy()).mean() > 0.9
    assert model.predict_proba(x).shape == (150, 3)

    diabetes = load_diabetes(as_frame=True).frame
    forgeml.train(
        diabetes, target="target", task="regression", name="sugar", trials=1, project=one_thread
    )
    regressor = forgeml.load_model("sugar@latest", project=one_thread)
    values = regressor.predict(diabetes.drop(columns="target"))
    assert values.dtype == np.float64 and values.std() > 0
    with pytest.raises(DataError, match="regression model: it has no class probabilities"):
        regressor.predict_proba(diabetes.drop(columns="target"))


def test_errors_name_the_python_arguments(one_thread: Project) -> None:
    frame = _cancer()
    with pytest.raises(ConfigError, match="name=") as no_name:
        forgeml.train(frame, target="benign", project=one_thread)
    assert "--" not in str(no_name.value)
    forgeml.ingest(frame, name="cancer", project=one_thread)
    with pytest.raises(ConfigError, match="no target column is set") as no_target:
        forgeml.train("cancer", project=one_thread)
    assert "target='COLUMN'" in str(no_target.value) and "--target" not in str(no_target.value)
    with pytest.raises(ConfigError, match="task='clasification' is not a task"):
        forgeml.train("cancer", target="benign", task="clasification", project=one_thread)
    assert forgeml.list_models(project=one_thread) == []  # nothing was trained or stored


def test_model_refuses_an_array_of_the_wrong_shape(one_thread: Project) -> None:
    iris = load_iris(as_frame=True).frame
    forgeml.train(iris, target="target", name="iris", trials=1, project=one_thread)
    model = forgeml.load_model("iris@champion", project=one_thread)
    with pytest.raises(DataError, match="2-D array of 4 columns") as wrong:
        model.predict(np.zeros((3, 2)))
    assert "sepal length (cm)" in str(wrong.value)
    with pytest.raises(DataError, match="cannot predict from a list"):
        model.predict([[1, 2, 3, 4]])


def test_public_objects_have_one_line_reprs(one_thread: Project) -> None:
    frame = _cancer()
    stored = forgeml.ingest(frame, name="cancer", project=one_thread).version
    assert repr(stored) == "<DatasetVersion cancer@1 569 rows × 31 columns>"
    result = forgeml.train(stored, target="benign", trials=1, project=one_thread)
    assert result.model is not None
    run = forgeml.get_run(result.run_id, project=one_thread)
    version = forgeml.model_version("cancer@champion", project=one_thread)
    assert repr(version).startswith("<ModelVersion cancer@1 (champion) ")
    for shown in (result, result.gate, result.bundle, run, version, stored):
        text = repr(shown)
        assert "\n" not in text and len(text) < 120, text
