"""Model versions: registration, references, lookups, loading, and concurrent numbering."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import forgeml.registry as registry
from forgeml.errors import ArtifactError, ArtifactNotFound, ConfigError, ForgemlError, NotFound
from forgeml.project import Project
from forgeml.registry import (
    ModelBundle,
    list_models,
    load_model,
    model_version,
    promote,
    register_model,
    register_run,
    save_bundle,
    versions,
)

SIGNATURE = {"inputs": [{"name": "a", "type": "float"}]}
CONCURRENT = 32


def _register(project: Project, bundle: ModelBundle | str, name: str = "credit", **kw: Any) -> Any:
    documents: dict[str, Any] = {"signature": SIGNATURE, "metrics": {"auc": 0.8}, "lineage": {}}
    return register_model(name, bundle, **{**documents, **kw}, project=project)


def test_public_names_are_exported() -> None:
    assert set(registry.__all__) == {
        "AliasEvent",
        "Flavor",
        "ModelBundle",
        "ModelSummary",
        "ModelVersion",
        "check_alias",
        "history",
        "list_models",
        "load_bundle",
        "load_model",
        "model_version",
        "parse_model_ref",
        "promote",
        "register_model",
        "register_run",
        "rollback",
        "save_bundle",
        "versions",
    }
    assert all(hasattr(registry, name) for name in registry.__all__)


def test_register_then_look_up_by_number_latest_and_name(
    project: Project, sklearn_bundle: ModelBundle, xy: tuple[np.ndarray, np.ndarray]
) -> None:
    first = _register(
        project,
        sklearn_bundle,
        metrics={"auc": np.float64(0.81), "logloss": float("nan")},
        lineage={"dataset": "credit@3", "run_id": None},
        card_html=b"<h1>credit</h1>",
    )
    second = _register(project, first.artifact_sha256)

    assert (first.ref, second.ref) == ("credit@1", "credit@2")
    got = model_version("credit@1", project=project)
    assert got == first
    assert got.flavor == "sklearn" and got.signature == SIGNATURE
    assert got.metrics == {"auc": 0.81, "logloss": None}
    assert got.lineage == {"dataset": "credit@3", "run_id": None}
    assert "@" in got.created_by and got.run_id is None and got.aliases == []
    assert got.card_sha256 is not None
    assert project.artifacts.get_bytes(got.card_sha256) == b"<h1>credit</h1>"
    assert model_version("credit", project=project).version == 2
    assert model_version("credit@latest", project=project).version == 2
    assert second.card_sha256 is None and second.artifact_sha256 == first.artifact_sha256

    version, bundle = load_model("credit@1", project=project)
    x, _ = xy
    assert version.version == 1
    np.testing.assert_array_equal(
        bundle.estimator.predict_proba(x), sklearn_bundle.estimator.predict_proba(x)
    )
    assert bundle.features == sklearn_bundle.features and bundle.extras == sklearn_bundle.extras


def test_listings_show_versions_latest_and_aliases(
    project: Project, sklearn_bundle: ModelBundle
) -> None:
    bundle_id = save_bundle(sklearn_bundle, project.artifacts)
    for _ in range(3):
        _register(project, bundle_id)
    _register(project, bundle_id, name="churn")
    promote("credit@2", reason="best auc", project=project)
    promote("credit@3", alias="challenger", reason="new data", project=project)

    summaries = {m.name: m for m in list_models(project=project)}
    assert sorted(summaries) == ["churn", "credit"]
    credit = summaries["credit"]
    assert (credit.versions, credit.latest) == (3, 3)
    assert credit.aliases == {"challenger": 3, "champion": 2}
    assert summaries["churn"].aliases == {}
    assert [(v.version, v.aliases) for v in versions("credit", project=project)] == [
        (1, []),
        (2, ["champion"]),
        (3, ["challenger"]),
    ]
    assert model_version("credit@champion", project=project).version == 2


def test_lookups_explain_what_is_missing(project: Project, sklearn_bundle: ModelBundle) -> None:
    assert list_models(project=project) == []
    with pytest.raises(NotFound, match="no model named 'credit'") as empty:
        model_version("credit", project=project)
    assert "register one first" in str(empty.value)
    _register(project, sklearn_bundle)
    with pytest.raises(NotFound, match="did you mean 'credit'"):
        model_version("credt@1", project=project)
    with pytest.raises(NotFound, match="has no version 9") as missing:
        model_version("credit@9", project=project)
    assert "versions 1 to 1" in str(missing.value)
    with pytest.raises(NotFound, match="has no alias 'champion'") as no_alias:
        model_version("credit@champion", project=project)
    assert "no aliases yet" in str(no_alias.value)
    promote("credit@1", alias="challenger", reason="first", project=project)
    with pytest.raises(NotFound, match=r"did you mean 'challenger'\? its aliases are: challenger"):
        model_version("credit@challengr", project=project)
    with pytest.raises(NotFound, match="no model named 'churn'"):
        versions("churn", project=project)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("credit@0", "invalid version"),
        ("credit@Champion", "neither a version number nor a valid alias"),
        ("../credit", "not a valid model name"),
        ("", "not a valid model name"),
    ],
)
def test_malformed_references_are_refused(project: Project, ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        model_version(ref, project=project)


def test_registration_checks_its_inputs_and_stores_nothing_on_error(
    project: Project, sklearn_bundle: ModelBundle
) -> None:
    with pytest.raises(ConfigError, match="not a valid model name"):
        _register(project, sklearn_bundle, name="credit/risk")
    with pytest.raises(ConfigError, match="signature cannot be stored as JSON"):
        _register(project, sklearn_bundle, signature={"inputs": {1, 2}})
    with pytest.raises(ConfigError, match="lineage must be a mapping"):
        _register(project, sklearn_bundle, lineage=["credit@1"])
    with pytest.raises(ArtifactError, match="is not a model bundle"):
        _register(project, project.artifacts.put_bytes(b"not a manifest"))
    with pytest.raises(ArtifactNotFound):
        _register(project, "0" * 64)
    with pytest.raises(NotFound, match="'nope' is not a run id"):
        _register(project, sklearn_bundle, run_id="nope")
    assert list_models(project=project) == []


def test_register_a_run_from_its_artifacts(
    project: Project, sklearn_bundle: ModelBundle, record_run: Any
) -> None:
    bundle_id = save_bundle(sklearn_bundle, project.artifacts)
    run_id = record_run(
        {
            "model/bundle": bundle_id,
            "model/signature.json": SIGNATURE,
            "model/metrics.json": {"auc": 0.9},
            "model/lineage.json": {"dataset": "credit@2"},
            "model/card.html": b"<p>card</p>",
        }
    )
    registered = register_run(run_id, project=project)
    assert registered.ref == "credit@1"  # named after the run's experiment
    assert registered.run_id == run_id and registered.artifact_sha256 == bundle_id
    assert registered.metrics == {"auc": 0.9} and registered.lineage == {"dataset": "credit@2"}
    assert registered.card_sha256 is not None
    assert project.artifacts.get_bytes(registered.card_sha256) == b"<p>card</p>"
    assert register_run(run_id, name="credit-eu", project=project).ref == "credit-eu@1"

    partial = record_run({"model/bundle": bundle_id, "model/metrics.json": {}})
    with pytest.raises(ArtifactError, match=r"no model/signature.json, model/lineage.json"):
        register_run(partial, project=project)
    broken = record_run(
        {
            "model/bundle": bundle_id,
            "model/signature.json": [1, 2],
            "model/metrics.json": {},
            "model/lineage.json": {},
        }
    )
    with pytest.raises(ArtifactError, match=r"model/signature\.json of run .* not a JSON object"):
        register_run(broken, project=project)
    failed = record_run({}, status="failed")
    with pytest.raises(ForgemlError, match="failed, so it has no model"):
        register_run(failed, project=project)
    with pytest.raises(NotFound, match="'missing' is not a run id"):
        register_run("missing", project=project)


def test_concurrent_registrations_in_threads_get_consecutive_versions(
    project: Project, sklearn_bundle: ModelBundle
) -> None:
    bundle_id = save_bundle(sklearn_bundle, project.artifacts)
    _ = project.store  # open the store once, before the threads share it
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        refs = list(pool.map(lambda _: _register(project, bundle_id).ref, range(CONCURRENT)))
    numbers = sorted(int(ref.split("@")[1]) for ref in refs)
    assert numbers == list(range(1, CONCURRENT + 1))
    assert [v.version for v in versions("credit", project=project)] == numbers


def _register_in_process(root: str, bundle_id: str) -> None:
    with Project.load(root) as project:
        _register(project, bundle_id)


def test_concurrent_registrations_in_processes_get_consecutive_versions(
    project: Project, sklearn_bundle: ModelBundle
) -> None:
    bundle_id = save_bundle(sklearn_bundle, project.artifacts)
    project.close()  # children open their own connections; none is shared across fork
    context = mp.get_context("fork")
    workers = [
        context.Process(target=_register_in_process, args=(str(project.root), bundle_id))
        for _ in range(CONCURRENT)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * CONCURRENT
    registered = versions("credit", project=project)
    assert [v.version for v in registered] == list(range(1, CONCURRENT + 1))
    assert {v.artifact_sha256 for v in registered} == {bundle_id}
