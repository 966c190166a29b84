"""Export to MLflow's format without MLflow; real MLflow loads it and predicts the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from deploy.mlflow_env import run_in_mlflow
from deploy.models import forgeml_scores, rows
from forgeml.deploy.mlflow_export import export_mlflow
from forgeml.deploy.pyfunc import PyfuncModel
from forgeml.errors import ConfigError
from forgeml.project import Project

LOAD = """
import json, sys
import mlflow.pyfunc
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.DataFrame(json.loads(sys.argv[2]))
frame["opened"] = pd.to_datetime(frame["opened"])
out = model.predict(frame)
meta = model.metadata
names = meta.get_input_schema().input_names()
print(json.dumps({"columns": list(out.columns), "values": out.to_numpy().tolist(),
                  "flavors": sorted(meta.flavors), "inputs": names}))
"""


def test_mlmodel_lists_native_and_pyfunc_flavors(deploy_project: Project, tmp_path: Path) -> None:
    out = export_mlflow("credit@1", tmp_path / "credit", project=deploy_project)
    document = yaml.safe_load((out / "MLmodel").read_text())
    assert set(document["flavors"]) == {"lightgbm", "python_function"}
    assert document["flavors"]["lightgbm"]["data"] == "forgeml/model.txt"
    assert (out / "forgeml" / "model.txt").is_file()
    inputs = json.loads(document["signature"]["inputs"])
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("income", "double"),
        ("age", "long"),
        ("plan", "string"),
        ("paperless", "boolean"),
        ("opened", "datetime"),
    ]
    assert inputs[2]["required"] is False  # plan has nulls
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("lightgbm==") for r in requirements)
    assert not any(r.split("==")[0] in ("optuna", "river", "duckdb") for r in requirements)
    env = yaml.safe_load((out / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    example = json.loads((out / "input_example.json").read_text())
    assert example["columns"] == [c["name"] for c in inputs]


def test_sklearn_flavor_is_skops(deploy_project: Project, tmp_path: Path) -> None:
    out = export_mlflow("spend@1", tmp_path / "spend", project=deploy_project)
    flavor = yaml.safe_load((out / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert flavor["pickled_model"] == "forgeml/model.skops"


def test_pyfunc_model_predicts_like_forgeml(deploy_project: Project, tmp_path: Path) -> None:
    import pandas as pd

    out = export_mlflow("tier@1", tmp_path / "tier", project=deploy_project)
    records = rows(10)
    got = PyfuncModel(out / "forgeml").predict(pd.DataFrame(records))
    assert list(got.columns) == ["high", "low", "mid"]
    expected = forgeml_scores(deploy_project, "tier@1", records)
    assert np.allclose(got.to_numpy(), expected, atol=1e-9)


def test_export_refuses_a_folder_in_use(deploy_project: Project, tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(ConfigError, match="not an empty folder"):
        export_mlflow("credit@1", tmp_path / "used", project=deploy_project)


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["credit@1", "spend@1", "tier@1"])
def test_real_mlflow_loads_the_export(deploy_project: Project, tmp_path: Path, ref: str) -> None:
    out = export_mlflow(ref, tmp_path / "model", project=deploy_project)
    records = rows(25)
    found = run_in_mlflow(LOAD, str(out), json.dumps(records))
    expected = forgeml_scores(deploy_project, ref, records)
    if expected.ndim == 2 and found["columns"] == ["score"]:
        expected = expected[:, 1]  # binary: the positive class
    got = np.asarray(found["values"], dtype=float).reshape(expected.shape)
    assert np.max(np.abs(got - expected)) <= 1e-6
    assert "python_function" in found["flavors"]  # type: ignore[operator]
    assert found["inputs"] == ["income", "age", "plan", "paperless", "opened"]
