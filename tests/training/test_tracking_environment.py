"""A run knows which commit of the code and which package versions produced it."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from forgeml.project import Project
from forgeml.training.environment import code_version, package_versions
from forgeml.training.tracking import get_run, start_run

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration, and an identity for commits."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in (("NAME", "Test"), ("EMAIL", "test@example.com")):
        monkeypatch.setenv(f"GIT_AUTHOR_{key}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{key}", value)


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


@needs_git
@pytest.mark.usefixtures("git_env")
def test_code_version_follows_commits_and_uncommitted_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    assert code_version(repo) == {"commit": None, "dirty": False, "branch": "main"}

    (repo / "train.py").write_text("print('v1')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    head = _git(repo, "rev-parse", "HEAD")
    clean = {"commit": head, "dirty": False, "branch": "main"}
    assert code_version(repo) == clean
    assert code_version(repo / "src") == clean  # any folder inside the checkout

    (repo / "notes.txt").write_text("untracked files do not count\n")
    assert code_version(repo) == clean
    (repo / "train.py").write_text("print('v2')\n")
    assert code_version(repo) == {"commit": head, "dirty": True, "branch": "main"}

    _git(repo, "checkout", "-q", "--detach")
    assert code_version(repo)["branch"] is None


def test_code_version_is_empty_outside_a_repository_or_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert code_version(tmp_path) == {}
    assert code_version(tmp_path / "missing") == {}
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert code_version(tmp_path) == {}


@needs_git
@pytest.mark.usefixtures("git_env")
def test_a_run_in_a_git_checkout_records_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    _git(tmp_path, "init", "-q", "-b", "exp")
    (tmp_path / ".gitignore").write_text(".forgeml/\n")
    _git(tmp_path, "add", ".gitignore")
    _git(tmp_path, "commit", "-q", "-m", "start")
    with Project.init(tmp_path / "credit", name="credit") as project:
        run = start_run(experiment="e", project=project)
        run.finish()
        recorded = get_run(run.id, project=project).code_version
    assert recorded["commit"] == _git(tmp_path, "rev-parse", "HEAD")
    assert recorded["branch"] == "exp"
    assert recorded["dirty"] is False  # forgeml.yaml is new, not a change to a tracked file


def test_package_versions_name_the_installed_stack() -> None:
    versions = package_versions()
    assert versions["python"] == platform.python_version()
    assert versions["forgeml"] == metadata.version("forgeml")
    assert versions["scikit-learn"] == metadata.version("scikit-learn")
    assert "xgboost" in versions and "lightgbm" in versions
    versions["numpy"] = "changed by a caller"
    assert package_versions()["numpy"] == metadata.version("numpy")  # the cache is not shared
