"""A model that cannot predict is never registered, aliased, served or scored."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import forgeml.cli
from forgeml.errors import ModelCannotPredict, NotFound, UntrustedModel
from forgeml.project import Project
from forgeml.registry import (
    ModelBundle,
    history,
    load_model,
    model_version,
    promote,
    register_model,
    save_bundle,
    versions,
)
from forgeml.registry.bundle import read_manifest
from forgeml.registry.byo import log_model
from forgeml.serve.deployment import Deployment
from registry.gadgets import Scratch, gadget_of, plant_version
from serve.serving import credit_table, fit_bundle, register


def _stored_files(project: Project) -> list[Path]:
    return sorted(project.artifacts.root.rglob("sha256/*/*"))  # type: ignore[attr-defined]


def _wrong_width(bundle: ModelBundle) -> ModelBundle:
    """A fitted model that raises on predict: it takes 2 features, the pipeline writes more."""
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    return replace(bundle, estimator=LogisticRegression().fit(x, [0, 1, 0, 1]))


def test_an_unfitted_model_is_refused_and_nothing_is_stored(sqlite_project: Project) -> None:
    bundle, signature = fit_bundle(credit_table(200), flavor="sklearn")
    unfitted = replace(bundle, estimator=LogisticRegression())
    before = _stored_files(sqlite_project)
    with pytest.raises(ModelCannotPredict, match="model 'credit' cannot predict") as refused:
        register_model(
            "credit", unfitted, signature=signature, metrics={}, lineage={}, project=sqlite_project
        )
    assert "NotFittedError" in refused.value.message
    assert refused.value.fix
    with pytest.raises(NotFound):
        versions("credit", project=sqlite_project)
    assert _stored_files(sqlite_project) == before


def test_a_stored_bundle_that_raises_on_predict_is_not_registered(
    sqlite_project: Project,
) -> None:
    bundle, signature = fit_bundle(credit_table(200), flavor="sklearn")
    sha = save_bundle(_wrong_width(bundle), sqlite_project.artifacts)
    with pytest.raises(ModelCannotPredict, match="cannot predict on example rows: ValueError"):
        register_model(
            "credit", sha, signature=signature, metrics={}, lineage={}, project=sqlite_project
        )
    with pytest.raises(NotFound):
        versions("credit", project=sqlite_project)


def test_an_alias_never_moves_to_a_version_that_cannot_predict(sqlite_project: Project) -> None:
    register(sqlite_project)  # credit@1, the champion
    bundle, signature = fit_bundle(credit_table(200), flavor="sklearn")
    sha = save_bundle(_wrong_width(bundle), sqlite_project.artifacts)
    bad = plant_version(sqlite_project, "credit", sha, signature, alias="candidate")
    with pytest.raises(ModelCannotPredict, match=f"credit@{bad} cannot predict"):
        promote(f"credit@{bad}", reason="looks better", project=sqlite_project)
    assert model_version("credit@champion", project=sqlite_project).version == 1
    assert [e.to_version for e in history("credit", project=sqlite_project)] == [1]


@pytest.fixture
def planted(sqlite_project: Project, scratch: Scratch) -> Scratch:
    """credit@champion: a valid model whose calibrator part writes a file when loaded."""
    bundle, signature = fit_bundle(credit_table(200), flavor="sklearn")
    valid = read_manifest(save_bundle(bundle, sqlite_project.artifacts), sqlite_project.artifacts)
    gadget = gadget_of(scratch, "ConstructorFromReduceNode")
    calibrator = sqlite_project.artifacts.put_bytes(gadget.data)
    extras = {**valid["extras"], "calibration": "isotonic"}
    manifest = {**valid, "parts": {**valid["parts"], "calibrator": calibrator}, "extras": extras}
    from forgeml.registry.documents import canonical_bytes

    sha = sqlite_project.artifacts.put_bytes(canonical_bytes(manifest))
    plant_version(sqlite_project, "credit", sha, signature, alias="champion")
    return scratch


def test_load_model_refuses_the_gadget(sqlite_project: Project, planted: Scratch) -> None:
    with pytest.raises(UntrustedModel, match=r"calibrator part .*savetxt"):
        load_model("credit@champion", project=sqlite_project)
    assert not planted.wrote()


def test_the_server_refuses_the_gadget(sqlite_project: Project, planted: Scratch) -> None:
    deployment = Deployment(sqlite_project, "credit")
    with pytest.raises(UntrustedModel, match="outside the allow-list"):
        deployment.refresh()
    assert deployment.serving is None
    assert not planted.wrote()


def test_forgeml_predict_refuses_the_gadget(
    sqlite_project: Project,
    planted: Scratch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("income,age,plan,paperless,opened\n50000,40,pro,true,2025-02-01\n")
    monkeypatch.setenv("FORGEML_PROJECT", str(sqlite_project.root))
    monkeypatch.setenv("COLUMNS", "200")
    argv = ["forgeml", "predict", "credit", "-i", str(source), "-o", str(tmp_path / "o.csv")]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as ended:
        forgeml.cli.main()
    captured = capsys.readouterr()
    assert ended.value.code not in (0, None)
    assert "outside the allow-list" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not planted.wrote()
    assert not (tmp_path / "o.csv").exists()


def test_inputs_without_a_recorded_range_are_probed_with_0_and_1(
    sqlite_project: Project,
) -> None:
    from forgeml.registry.model_check import example_rows

    # LogisticRegression refuses NaN: a missing value instead of a probe would fail the check
    x = np.array([[0.0, 2.0], [1.0, 0.5], [2.0, 1.0], [3.0, 0.0]])
    model = LogisticRegression().fit(x, [0, 0, 1, 1])
    columns = [
        {"name": "a", "kind": "float", "nullable": False},  # names and types only
        {"name": "b", "kind": "integer", "nullable": False, "min": 5, "max": 9},
    ]
    version = log_model(
        model, name="ranges", signature_from={"inputs": columns}, project=sqlite_project
    )
    _, bundle = load_model(version.ref, project=sqlite_project)
    rows = example_rows(bundle, version.signature)
    assert rows.tolist() == [[0.0, 5.0], [1.0, 9.0]]
    assert model_version("ranges@1", project=sqlite_project).flavor == "sklearn"
