"""A model directory at a URL (Vertex AI's gs:// AIP_STORAGE_URI): fetched, checked, served."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from deploy.models import forgeml_scores, rows
from forgeml.deploy.modeldir import load_model_dir, write_model_dir
from forgeml.deploy.pyfunc import PyfuncModel
from forgeml.errors import ConfigError, IntegrityError, MissingDependency, UnsafeKey
from forgeml.project import Project
from forgeml.registry.remote_dir import fetch_model_dir


def _upload(folder: Path) -> str:
    """``folder``'s files under a fresh memory:// bucket; its URL."""
    fs = fsspec.filesystem("memory")
    bucket = f"/bucket-{uuid.uuid4().hex[:8]}/models/credit"
    for file in folder.rglob("*"):
        if file.is_file():
            fs.pipe(f"{bucket}/{file.relative_to(folder).as_posix()}", file.read_bytes())
    return f"memory://{bucket}"


def test_a_directory_at_a_url_is_fetched_and_predicts_like_the_registry(
    deploy_project: Project, exports: Path, tmp_path: Path
) -> None:
    exported = write_model_dir("credit@1", exports / "remote-credit", project=deploy_project).path
    url = _upload(exported)
    local = fetch_model_dir(url, cache_dir=tmp_path / "cache")
    assert local.parent == (tmp_path / "cache").resolve()
    assert sorted(p.name for p in local.iterdir()) == sorted(p.name for p in exported.iterdir())
    version, _bundle = load_model_dir(local)
    assert version.ref == "credit@1"
    records = rows(10)
    got = PyfuncModel(local).predict(pd.DataFrame(records))["score"].to_numpy()
    assert np.allclose(got, forgeml_scores(deploy_project, "credit@1", records)[:, 1])
    again = fetch_model_dir(url, cache_dir=tmp_path / "cache")  # a fresh copy, same place
    assert again == local and not [p for p in again.parent.iterdir() if p.name.startswith(".")]


def test_a_file_changed_at_the_url_fails_its_checksum(
    deploy_project: Project, exports: Path, tmp_path: Path
) -> None:
    exported = write_model_dir("credit@1", exports / "tampered", project=deploy_project).path
    url = _upload(exported)
    fsspec.filesystem("memory").pipe(f"{url.removeprefix('memory://')}/model.txt", b"tree\n")
    with pytest.raises(IntegrityError):
        load_model_dir(fetch_model_dir(url, cache_dir=tmp_path / "cache"))


def test_names_that_climb_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    bucket = f"/evil-{uuid.uuid4().hex[:8]}/model"
    fs.pipe(f"{bucket}/forgeml.json", b"{}")
    fs.pipe(f"{bucket}/../../escaped.txt", b"x")  # a listing can name anything
    with pytest.raises(UnsafeKey):
        fetch_model_dir(f"memory://{bucket}", cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("escaped.txt"))
    assert not (tmp_path / "escaped.txt").exists()


def test_an_empty_location_and_a_missing_package_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing was found") as empty:
        fetch_model_dir(f"memory://nothing-{uuid.uuid4().hex[:8]}", cache_dir=tmp_path)
    assert "--format dir" in str(empty.value.fix)
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependency) as missing:
            fetch_model_dir("gs://bucket/models/credit", cache_dir=tmp_path)
        assert "forgeml[gcs]" in str(missing.value.fix)


def test_a_local_path_or_file_url_is_used_in_place(tmp_path: Path) -> None:
    assert fetch_model_dir(str(tmp_path)) == tmp_path
    assert fetch_model_dir(f"file://{tmp_path}") == tmp_path


def test_serve_on_vertex_fetches_aip_storage_uri(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed: the bucket would be looked up for real")
    env = {**os.environ, "AIP_STORAGE_URI": "gs://bucket/models/credit"}
    done = subprocess.run(
        [sys.executable, "-m", "forgeml.cli", "serve", "--profile", "vertex"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "fetching the model from gs://bucket/models/credit" in done.stdout
    assert "a model directory at a gs:// URL needs the package 'gcsfs'" in done.stderr
    assert "pip install 'forgeml[gcs]'" in done.stderr
