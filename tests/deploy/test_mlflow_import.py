"""Import from MLflow: forgeml's own exports round-trip; models MLflow saved are registered,
pickles only on trust (recorded), unreadable folders refused clearly (ONNX: test_onnx_import)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deploy.mlflow_env import run_in_mlflow
from deploy.models import forgeml_scores, rows
from forgeml.deploy.mlflow_export import export_mlflow
from forgeml.deploy.mlflow_import import import_mlflow
from forgeml.errors import ConfigError, UntrustedModel
from forgeml.model import Model
from forgeml.project import Project
from forgeml.registry import load_model, model_version

SAVE = """
import json, sys
import lightgbm, mlflow.lightgbm, mlflow.sklearn, numpy as np, pandas as pd
from mlflow.models import infer_signature
from sklearn.ensemble import RandomForestClassifier
out = sys.argv[1]
rng = np.random.default_rng(0)
x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
y = (x["a"] + 0.5 * x["b"] > 0).astype(int)
clf = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)  # takes NaN
sig = infer_signature(x, clf.predict_proba(x)[:, 1])
mlflow.sklearn.save_model(clf, out + "/skops", signature=sig, serialization_format="skops",
                          skops_trusted_types=["sklearn.tree._tree.Tree"])
mlflow.sklearn.save_model(clf, out + "/pickled", signature=sig,
                          serialization_format="cloudpickle")
booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_threads": 1},
                         lightgbm.Dataset(x, y), num_boost_round=10)
mlflow.lightgbm.save_model(booster, out + "/lgbm", signature=sig)
probe = pd.DataFrame({"a": [-1.0, 0.2, 1.5], "b": [0.3, -2.0, 0.1]})
print(json.dumps({"sklearn": clf.predict_proba(probe)[:, 1].tolist(),
                  "lightgbm": booster.predict(probe).tolist(), "probe": probe.to_dict("list")}))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("mlflow-saved")
    return folder, run_in_mlflow(SAVE, str(folder))


def _scores(project: Project, ref: str, probe: dict[str, list[float]]) -> np.ndarray:
    version, bundle = load_model(ref, project=project)
    return Model(version, bundle).predict_proba(probe)[:, 1]


def test_export_then_import_gives_the_same_model(deploy_project: Project, tmp_path: Path) -> None:
    out = export_mlflow("tier@1", tmp_path / "tier", project=deploy_project)
    version = import_mlflow(out, "tier_back", project=deploy_project)
    assert version.lineage["imported_from"] == "tier@1"
    original = model_version("tier@1", project=deploy_project)
    assert version.signature == original.signature  # columns, kinds, ranges, classes
    assert version.metrics == original.metrics
    assert version.artifact_sha256 == original.artifact_sha256  # model, preprocessing, extras
    records = rows(10)
    back = forgeml_scores(deploy_project, version.ref, records)
    assert np.array_equal(back, forgeml_scores(deploy_project, "tier@1", records))


@pytest.mark.slow
def test_models_mlflow_saved_are_registered(
    deploy_project: Project, saved: tuple[Path, dict[str, object]]
) -> None:
    folder, expected = saved
    probe = expected["probe"]
    assert isinstance(probe, dict)
    skops_version = import_mlflow(folder / "skops", "clf_skops", project=deploy_project)
    assert skops_version.signature["task"] == "binary"
    assert [c["name"] for c in skops_version.signature["inputs"]] == ["a", "b"]
    got = _scores(deploy_project, skops_version.ref, probe)
    assert np.allclose(got, expected["sklearn"], atol=1e-9)
    lgbm_version = import_mlflow(folder / "lgbm", "clf_lgbm", project=deploy_project)
    got = _scores(deploy_project, lgbm_version.ref, probe)
    assert np.allclose(got, expected["lightgbm"], atol=1e-9)
    assert "trusted_pickle" not in lgbm_version.lineage


@pytest.mark.slow
def test_pickles_need_trust_and_the_trust_is_recorded(
    deploy_project: Project, saved: tuple[Path, dict[str, object]]
) -> None:
    folder, expected = saved
    with pytest.raises(UntrustedModel, match="cloudpickle file"):
        import_mlflow(folder / "pickled", "clf_pickled", project=deploy_project)
    version = import_mlflow(
        folder / "pickled",
        "clf_pickled",
        trust_pickle=True,
        trust_reason="saved by our training job",
        project=deploy_project,
    )
    trust = version.lineage["trusted_pickle"]
    assert trust["format"] == "cloudpickle" and trust["by"]
    assert trust["reason"] == "saved by our training job"
    probe = expected["probe"]
    assert isinstance(probe, dict)
    got = _scores(deploy_project, version.ref, probe)
    assert np.allclose(got, expected["sklearn"], atol=1e-9)  # stored as skops now
    assert version.flavor == "sklearn"


def _mlmodel(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "MLmodel").write_text(text)
    return folder


def test_missing_and_unreadable_folders_are_refused(
    deploy_project: Project, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no MLmodel file"):
        import_mlflow(tmp_path, "x", project=deploy_project)
    onnx = _mlmodel(tmp_path / "onnx", "flavors:\n  onnx:\n    data: model.onnx\n")
    with pytest.raises(ConfigError, match=r"model\.onnx does not exist"):
        import_mlflow(onnx, "x", project=deploy_project)
    signature = json.dumps([{"type": "double", "name": "a"}])
    escape = _mlmodel(
        tmp_path / "escape",
        f"flavors:\n  lightgbm:\n    data: ../../etc/passwd\nsignature:\n  inputs: '{signature}'\n",
    )
    with pytest.raises(ConfigError, match="outside the model folder"):
        import_mlflow(escape, "x", project=deploy_project)
    broken = _mlmodel(tmp_path / "broken", "flavors: [unclosed\n")
    with pytest.raises(ConfigError, match="not YAML"):
        import_mlflow(broken, "x", project=deploy_project)
