"""The deploy commands through the real ``forgeml`` entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from forgeml.project import Project
from support import run_cli


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    done = run_cli(monkeypatch, capsys, *args)
    return done.code, done.out + done.err


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(
    deploy_project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    monkeypatch.setenv("FORGEML_PROJECT", str(deploy_project.root))
    return lambda *args: _run(monkeypatch, capsys, *args)


def test_export_every_format(cli: Cli, tmp_path: Path) -> None:
    code, out = cli("export", "credit@1", str(tmp_path / "dir"))
    assert code == 0, out
    assert "forgeml serve --model-dir" in out
    assert json.loads((tmp_path / "dir" / "forgeml.json").read_text())["version"] == 1
    for form, expected in [
        ("mlflow", "MLmodel"),
        ("sagemaker", "model.tar.gz"),
        ("vertex", "container_spec.json"),
        ("azureml", "score.py"),
    ]:
        code, out = cli("export", "credit@1", str(tmp_path / form), "--format", form)
        assert code == 0, out
        assert (tmp_path / form / expected).is_file()
    code, out = cli("export", "credit@1", str(tmp_path / "x"), "--format", "pmml")
    assert code != 0 and "use one of" in out


def test_build_docker_and_k8s(cli: Cli, tmp_path: Path) -> None:
    code, out = cli("build", "docker", "credit@1", str(tmp_path / "ctx"), "--profile", "sagemaker")
    assert code == 0, out
    assert "locked packages" in out
    assert "USER" not in (tmp_path / "ctx" / "Dockerfile").read_text()
    code, out = cli("k8s", "credit@1", "--output", str(tmp_path / "k8s"), "--image", "r/c:1")
    assert code == 0, out
    deployment = yaml.safe_load((tmp_path / "k8s" / "deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "r/c:1"
    code, out = cli("k8s", "credit@1", "-o", str(tmp_path / "ks"), "--kserve")
    assert code == 0, out
    assert (tmp_path / "ks" / "inferenceservice.yaml").is_file()
    code, out = cli("k8s", "credit@1", "-o", str(tmp_path / "bad"), "--min-replicas", "12")
    assert code != 0 and "not a range" in out


def test_import_round_trip_and_errors(cli: Cli, tmp_path: Path) -> None:
    code, out = cli("export", "spend@1", str(tmp_path / "m"), "--format", "mlflow")
    assert code == 0, out
    code, out = cli("import", "mlflow", str(tmp_path / "m"), "--name", "spend_copy")
    assert code == 0, out
    assert "spend_copy@1 registered" in out
    code, out = cli("import", "mlflow", str(tmp_path), "--name", "nothing")
    assert code != 0 and "no MLmodel file" in out
