"""``forgeml import mlflow --trust-pickle`` needs ``--trust-reason``; the grant is an audit row
(action ``import``) that ``forgeml history`` lists with its reason."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.tree import DecisionTreeClassifier

import forgeml
from forgeml.errors import NotFound
from forgeml.project import Project
from forgeml.registry import model_version
from forgeml.registry.code_trust import trust_history
from support import CliResult, run_cli

RNG = np.random.default_rng(5)
X = RNG.normal(size=(80, 2))
Y = (X[:, 0] - X[:, 1] > 0).astype(int)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    found = Project.init(tmp_path / "project", name="pickles")
    yield found
    found.close()


@pytest.fixture
def pickled(tmp_path: Path) -> tuple[Path, DecisionTreeClassifier]:
    """An MLflow sklearn model saved with its default format, as mlflow.sklearn lays it out."""
    folder = tmp_path / "tree-model"
    folder.mkdir()
    fitted = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, Y)  # takes NaN
    (folder / "model.pkl").write_bytes(pickle.dumps(fitted))
    columns = [{"type": "double", "name": n, "required": True} for n in ("a", "b")]
    mlmodel = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": "3.11.9",
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "sklearn_version": "1.6.1",
            },
        },
        "mlflow_version": "2.19.0",
        "signature": {"inputs": json.dumps(columns), "outputs": None, "params": None},
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return folder, fitted


def _cli(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
) -> CliResult:
    monkeypatch.setenv("FORGEML_PROJECT", str(project.root))
    return run_cli(monkeypatch, capsys, *args)


def _stored(project: Project) -> list[Path]:
    return sorted(project.artifacts.root.rglob("*"))  # type: ignore[attr-defined]


def test_trust_pickle_without_a_reason_fails_and_stores_nothing(
    project: Project,
    pickled: tuple[Path, DecisionTreeClassifier],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, _ = pickled
    before = _stored(project)
    for reason in ((), ("--trust-reason", "  ")):
        done = _cli(
            project, monkeypatch, capsys, "import", "mlflow", str(folder), "--name", "tree",
            "--trust-pickle", *reason,
        )  # fmt: skip
        assert done.code != 0
        said = done.out + done.err
        assert "needs a reason" in said and "--trust-reason" in said, said
    with pytest.raises(NotFound):
        model_version("tree", project=project)
    assert _stored(project) == before
    done = _cli(
        project, monkeypatch, capsys, "import", "mlflow", str(folder), "--name", "tree",
        "--trust-reason", "ours",
    )  # fmt: skip
    assert done.code != 0 and "only with --trust-pickle" in done.out + done.err


def test_the_import_grant_is_listed_by_forgeml_history(
    project: Project,
    pickled: tuple[Path, DecisionTreeClassifier],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, fitted = pickled
    reason = "saved by our nightly job, run 812"
    done = _cli(
        project, monkeypatch, capsys, "import", "mlflow", str(folder), "--name", "tree",
        "--trust-pickle", "--trust-reason", reason,
    )  # fmt: skip
    assert done.code == 0, done.out + done.err
    assert "tree@1 registered" in done.out and "forgeml history tree" in done.out
    (grant,) = trust_history("tree", project=project)
    assert (grant.ref, grant.action, grant.reason) == ("tree@1", "import", reason)
    assert grant.admitted == ["cloudpickle file model.pkl (stored as skops)"]
    version = model_version("tree@1", project=project)
    assert version.flavor == "sklearn"  # stored as skops: loading it reads no pickle
    assert version.lineage["trusted_pickle"]["reason"] == reason
    probe = {"a": X[:10, 0].tolist(), "b": X[:10, 1].tolist()}
    got = forgeml.load_model("tree@1", project=project).predict_proba(probe)
    assert np.array_equal(got, fitted.predict_proba(X[:10]))

    shown = _cli(project, monkeypatch, capsys, "history", "tree")
    assert shown.code == 0, shown.out + shown.err
    assert "pickles read on import" in shown.out
    row = next(line for line in shown.out.splitlines() if "@1" in line and "import" in line)
    assert reason in row and "cloudpickle file model.pkl" in row
