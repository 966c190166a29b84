"""Model directories: written from the registry, loaded with the registry's checks."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.naive_bayes import GaussianNB

from deploy.models import forgeml_scores, rows
from forgeml.deploy.modeldir import load_model_dir, read_model_dir, write_model_dir
from forgeml.deploy.pyfunc import PyfuncModel
from forgeml.errors import ArtifactError, ConfigError, IntegrityError, UntrustedModel
from forgeml.project import Project


@pytest.fixture(scope="module")
def credit_dir(deploy_project: Project, exports: Path) -> Path:
    return write_model_dir("credit@1", exports / "credit", project=deploy_project).path


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def _rewrite_manifest(folder: Path, change: dict[str, object]) -> None:
    manifest = json.loads((folder / "forgeml.json").read_text())
    manifest.update(change)
    (folder / "forgeml.json").write_text(json.dumps(manifest))


def test_directory_holds_native_files_and_predicts_like_the_registry(
    deploy_project: Project, credit_dir: Path
) -> None:
    names = sorted(p.name for p in credit_dir.iterdir())
    assert names == [
        "forgeml.json",
        "input_example.json",
        "model.txt",
        "requirements.txt",
        "schema.json",
    ]
    assert (credit_dir / "model.txt").read_text().startswith("tree")  # LightGBM's text
    requirements = (credit_dir / "requirements.txt").read_text().split()
    assert requirements[0].startswith("forgeml==")
    assert any(r.startswith("lightgbm==") for r in requirements)
    version, bundle = load_model_dir(credit_dir)
    assert (version.ref, bundle.flavor) == ("credit@1", "lightgbm")
    records = rows(15)
    got = PyfuncModel(credit_dir).predict(__import__("pandas").DataFrame(records))["score"]
    expected = forgeml_scores(deploy_project, "credit@1", records)[:, 1]
    assert np.allclose(got.to_numpy(), expected, atol=1e-12)


def test_sklearn_model_is_a_skops_file(deploy_project: Project, tmp_path: Path) -> None:
    found = write_model_dir("spend@1", tmp_path / "spend", project=deploy_project)
    assert found.model_file == "model.skops"
    assert zipfile.is_zipfile(found.file("model"))  # a skops archive, not a pickle
    with zipfile.ZipFile(found.file("model")) as archive:
        assert "schema.json" in archive.namelist()
    _, bundle = load_model_dir(found.path)
    assert type(bundle.estimator).__name__ == "Ridge"


def test_a_changed_file_is_refused(credit_dir: Path, tmp_path: Path) -> None:
    copy = _copy(credit_dir, tmp_path / "changed")
    text = (copy / "model.txt").read_text()
    (copy / "model.txt").write_text(text.replace("tree", "tree ", 1))
    with pytest.raises(IntegrityError, match=r"model\.txt does not match its sha256"):
        load_model_dir(copy)


def test_a_missing_file_is_refused(credit_dir: Path, tmp_path: Path) -> None:
    copy = _copy(credit_dir, tmp_path / "missing")
    (copy / "schema.json").unlink()
    with pytest.raises(ArtifactError, match=r"lacks schema\.json"):
        read_model_dir(copy)


def test_file_names_cannot_leave_the_folder(credit_dir: Path, tmp_path: Path) -> None:
    copy = _copy(credit_dir, tmp_path / "escape")
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    digest = hashlib.sha256(b"x").hexdigest()
    manifest = json.loads((copy / "forgeml.json").read_text())
    manifest["files"]["model"] = "../secret.txt"
    manifest["sha256"]["../secret.txt"] = digest
    (copy / "forgeml.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not a plain file name"):
        load_model_dir(copy)


def test_a_skops_file_with_types_off_the_allow_list_is_not_loaded(
    deploy_project: Project, tmp_path: Path
) -> None:
    found = write_model_dir("spend@1", tmp_path / "spend", project=deploy_project)
    hostile = skops.io.dumps(GaussianNB().fit([[0.0], [1.0]], [0, 1]))  # not on the list
    found.file("model").write_bytes(hostile)
    manifest = dict(found.manifest)
    manifest["sha256"] = {**manifest["sha256"], "model.skops": hashlib.sha256(hostile).hexdigest()}
    _rewrite_manifest(found.path, {"sha256": manifest["sha256"]})
    with pytest.raises(UntrustedModel, match="outside the allow-list"):
        load_model_dir(found.path)


def test_bad_folders_get_clear_errors(credit_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no forgeml\.json"):
        read_model_dir(tmp_path)
    copy = _copy(credit_dir, tmp_path / "future")
    _rewrite_manifest(copy, {"format": 99})
    with pytest.raises(ArtifactError, match="format 99"):
        read_model_dir(copy)
    (copy / "forgeml.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="is not JSON"):
        read_model_dir(copy)


def test_export_refuses_a_folder_in_use(deploy_project: Project, credit_dir: Path) -> None:
    with pytest.raises(ConfigError, match="not an empty folder"):
        write_model_dir("credit@1", credit_dir, project=deploy_project)
