"""SageMaker, Vertex AI and Azure ML bundles: built offline, loaded and scored here."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from deploy.models import forgeml_scores, rows
from forgeml.deploy.cloud import export_cloud
from forgeml.deploy.modeldir import load_model_dir
from forgeml.errors import ConfigError
from forgeml.project import Project


def test_sagemaker_archive_unpacks_to_a_model_directory(
    deploy_project: Project, tmp_path: Path
) -> None:
    out = export_cloud("credit@1", tmp_path / "sm", "sagemaker", project=deploy_project)
    assert sorted(p.name for p in out.iterdir()) == ["model.tar.gz"]
    with tarfile.open(out / "model.tar.gz") as archive:
        names = archive.getnames()
        assert "forgeml.json" in names and "model.txt" in names  # at the root: /opt/ml/model
        assert all("/" not in n for n in names)
        archive.extractall(tmp_path / "opt-ml-model", filter="data")
    version, _ = load_model_dir(tmp_path / "opt-ml-model")
    assert version.ref == "credit@1"


def test_vertex_container_spec(deploy_project: Project, tmp_path: Path) -> None:
    out = export_cloud(
        "credit@1",
        tmp_path / "vx",
        "vertex",
        image="europe-docker.pkg.dev/p/r/credit:1",
        project=deploy_project,
    )
    spec = json.loads((out / "container_spec.json").read_text())
    assert spec["imageUri"] == "europe-docker.pkg.dev/p/r/credit:1"
    assert spec["ports"] == [{"containerPort": 8080}]
    assert spec["healthRoute"].startswith("/") and spec["predictRoute"].startswith("/")
    load_model_dir(out / "model")  # what goes to the artifactUri bucket


def _score_module(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("azure_score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_azure_score_py_init_and_run(
    deploy_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = export_cloud("tier@1", tmp_path / "az", "azureml", project=deploy_project)
    deployment = yaml.safe_load((out / "deployment.yml").read_text())
    assert deployment["code_configuration"] == {"code": ".", "scoring_script": "score.py"}
    assert deployment["model"]["path"] == "model"
    environment = yaml.safe_load((out / "environment.yml").read_text())
    pip = environment["conda_file"]["dependencies"][-1]["pip"]
    assert any(p.startswith("lightgbm==") for p in pip)
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(out))
    score = _score_module(out / "score.py")
    score.init()
    records = rows(6)
    answer = score.run(json.dumps({"input_data": records}))
    expected = forgeml_scores(deploy_project, "tier@1", records)
    got = np.array([[p[c] for c in ("high", "low", "mid")] for p in answer["predictions"]])
    assert np.allclose(got, expected, atol=1e-9)
    columns = list(records[0])
    split = {"input_data": {"columns": columns, "data": [[r[c] for c in columns] for r in records]}}
    assert score.run(json.dumps(split)) == answer
    assert "error" in score.run(json.dumps({"input_data": 5}))
    assert "error" in score.run("{not json")


def test_unknown_platform_is_refused(deploy_project: Project, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown platform"):
        export_cloud("credit@1", tmp_path / "x", "heroku", project=deploy_project)
