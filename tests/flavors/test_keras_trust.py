"""Keras Lambda layers and .h5 files: refused by default, admitted by an audited trust flag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import forgeml
from flavors.conftest import write_keras_archive
from forgeml.cli import output
from forgeml.cli.artifacts import scan_command
from forgeml.cli.context import State
from forgeml.errors import ConfigError, UntrustedModel
from forgeml.flavors import keras_flavor
from forgeml.project import Project
from forgeml.registry import code_trust
from forgeml.registry.bundle import load_bundle, read_manifest
from forgeml.registry.code_trust import trust_history
from forgeml.registry.scan import scan
from forgeml.serve.server import ServeSettings, build_app
from forgeml.store import registry as queries

keras_flavor.use_backend()
keras = pytest.importorskip("keras")

X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
REASON = "the Lambda layer is our own scaling, reviewed"


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No grant made earlier in this process carries over (as in a new server process)."""
    monkeypatch.setattr(code_trust, "_granted", set())


@pytest.fixture(scope="module")
def lam() -> Any:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1)(doubled))


def _log(model: Any, project: Project, name: str, **trust: Any) -> Any:
    return forgeml.log_model(
        model, name=name, signature_from=X, task="regression", project=project, **trust
    )


def test_a_lambda_model_needs_the_flag_and_a_reason(byo_project: Project, lam: Any) -> None:
    with pytest.raises(UntrustedModel, match="Lambda") as refused:
        _log(lam, byo_project, "lam-refused")
    assert "trust_code=True" in refused.value.fix
    with pytest.raises(ConfigError, match="needs a reason"):
        _log(lam, byo_project, "lam-refused", trust_code=True)
    assert not any(m.name == "lam-refused" for m in forgeml.list_models(project=byo_project))


def test_a_trusted_lambda_model_is_logged_audited_and_loaded_only_with_the_flag(
    byo_project: Project, lam: Any, fresh_process: None
) -> None:
    version = _log(lam, byo_project, "lam", trust_code=True, trust_reason=REASON)
    [logged] = trust_history("lam", project=byo_project)
    assert (logged.ref, logged.action, logged.reason) == (version.ref, "log", REASON)
    assert logged.admitted == ["Lambda layer (Python code)"]
    assert logged.actor and logged.created_at is not None

    code_trust._granted.clear()  # a later process: the grant at logging time is gone
    with pytest.raises(UntrustedModel, match="Lambda"):
        forgeml.load_model(version.ref, project=byo_project)
    loaded = forgeml.load_model(
        version.ref, trust_code=True, trust_reason="scoring job 7", project=byo_project
    )
    expected = keras_flavor.predict(lam, X)[:, 0]
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-5)
    actions = [(e.action, e.reason) for e in trust_history("lam", project=byo_project)]
    assert actions == [("log", REASON), ("load", "scoring job 7")]


def test_scan_lists_versions_that_hold_code(
    byo_project: Project, lam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output.console, "_width", 250)
    version = _log(lam, byo_project, "lam-scan", trust_code=True, trust_reason=REASON)
    [part] = [p for p in scan(project=byo_project) if p.ref == version.ref]
    assert part.code == "Lambda layer (Python code)" and part.safe
    app = typer.Typer()
    app.command("scan")(scan_command)
    app.command("unused")(lambda: None)
    state = State(project_dir=byo_project.root)
    try:
        result = CliRunner().invoke(app, ["scan"], obj=state)
    finally:
        state.close()
    assert result.exit_code == 0, result.output
    assert version.ref in result.output and "--trust-code" in result.output


def test_the_flag_never_admits_a_config_that_names_os_system(
    byo_project: Project, lam: Any, tmp_path: Path, fresh_process: None
) -> None:
    data = keras_flavor.dump(lam, trust_code=True)["model"][1]
    config = json.loads(_config(data))
    config["config"]["layers"].append(
        {"module": "os", "class_name": "system", "config": {"command": "touch pwned"}}
    )
    crafted = write_keras_archive(tmp_path / "crafted.keras", data, config).read_bytes()
    with pytest.raises(UntrustedModel, match=r"os\.system") as refused:
        keras_flavor.load({"model": crafted}, trust_code=True)
    assert "trust_code does not admit" in refused.value.fix
    version = _log(lam, byo_project, "lam-forged", trust_code=True, trust_reason=REASON)
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    manifest["parts"]["model"] = byo_project.artifacts.put_bytes(crafted)
    forged = byo_project.artifacts.put_bytes(json.dumps(manifest).encode())
    code_trust.grant([forged])
    with pytest.raises(UntrustedModel, match=r"os\.system"):
        load_bundle(forged, byo_project.artifacts)
    with byo_project.store.write() as session:  # a version stored behind forgeml's back
        queries.add_version(
            session,
            name="lam-forged",
            flavor="keras",
            artifact_sha256=forged,
            signature=version.signature,
            metrics={},
            lineage={},
            card_sha256=None,
            run_id=None,
            created_by="test",
            artifacts=[(forged, 1, "model/bundle")],
        )
    [flagged] = [p for p in scan(project=byo_project) if not p.safe]
    assert flagged.ref == "lam-forged@2" and "os.system" in (flagged.code or "")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_legacy_h5_file_is_admitted_only_with_the_flag(
    byo_project: Project, lam: Any, tmp_path: Path, fresh_process: None
) -> None:
    path = tmp_path / "legacy.h5"
    with keras_flavor._quiet():
        lam.save(path)
    with pytest.raises(UntrustedModel, match=r"\.h5"):
        _log(path, byo_project, "legacy")
    version = _log(path, byo_project, "legacy", trust_code=True, trust_reason="vendor model")
    manifest = read_manifest(version.artifact_sha256, byo_project.artifacts)
    assert manifest["formats"] == {"model": "keras-h5"}
    [event] = trust_history("legacy", project=byo_project)
    assert event.admitted == ["legacy .h5 archive (may hold Python code)"]
    [part] = [p for p in scan(project=byo_project) if p.ref == version.ref]
    assert part.code == "legacy .h5 archive (may hold Python code)"

    code_trust._granted.clear()
    with pytest.raises(UntrustedModel, match=r"legacy \.h5"):
        load_bundle(version.artifact_sha256, byo_project.artifacts)
    forgeml.trust_code(version.ref, reason="vendor model", project=byo_project)
    bundle = load_bundle(version.artifact_sha256, byo_project.artifacts)
    expected = keras_flavor.predict(lam, X)
    np.testing.assert_allclose(keras_flavor.predict(bundle.estimator, X), expected, rtol=1e-5)


def test_a_server_loads_a_trusted_version_only_when_started_with_the_grant(
    byo_project: Project, lam: Any, fresh_process: None
) -> None:
    version = _log(lam, byo_project, "lam-served", trust_code=True, trust_reason=REASON)
    forgeml.promote(version.ref, reason="first", project=byo_project)
    code_trust._granted.clear()
    settings = ServeSettings(
        project=str(byo_project.root), model="lam-served", log_predictions=False
    )
    with pytest.raises(UntrustedModel, match="--trust-code"):  # fails before binding a port
        build_app(settings, project=byo_project)
    code_trust._granted.clear()
    trusted = ServeSettings(**{**settings.__dict__, "trusted": [version.artifact_sha256]})
    app = build_app(trusted, project=byo_project)
    assert app.deployment.serving is not None
    assert app.deployment.serving.champion.version.ref == version.ref


def _config(data: bytes) -> bytes:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("config.json")


def test_serve_asks_for_the_flag_with_a_project_and_a_reason(byo_project: Project) -> None:
    from forgeml.cli.serve import serve_command

    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("unused")(lambda: None)
    state = State(project_dir=byo_project.root)
    try:
        alone = CliRunner().invoke(app, ["serve", "m", "--trust-reason", "why"], obj=state)
        model_dir = CliRunner().invoke(
            app, ["serve", "--model-dir", str(byo_project.root), "--trust-code"], obj=state
        )
    finally:
        state.close()
    assert alone.exit_code == 2 and "only with --trust-code" in alone.output
    assert model_dir.exit_code == 2 and "audit trail" in model_dir.output


def test_promote_checks_a_trusted_version_only_with_the_flag(
    byo_project: Project, lam: Any, fresh_process: None
) -> None:
    from forgeml.cli.registry import promote_command

    version = _log(lam, byo_project, "lam-promoted", trust_code=True, trust_reason=REASON)
    code_trust._granted.clear()
    app = typer.Typer()
    app.command("promote")(promote_command)
    app.command("unused")(lambda: None)
    state = State(project_dir=byo_project.root)
    try:
        refused = CliRunner().invoke(app, ["promote", version.ref, "-r", "ship it"], obj=state)
        trusted = CliRunner().invoke(
            app, ["promote", version.ref, "-r", "ship it", "--trust-code"], obj=state
        )
    finally:
        state.close()
    assert isinstance(refused.exception, UntrustedModel)
    assert trusted.exit_code == 0, trusted.output
    assert "champion" in forgeml.model_version(version.ref, project=byo_project).aliases
    last = trust_history("lam-promoted", project=byo_project)[-1]
    assert (last.action, last.reason) == ("load", "ship it")


def test_gate_admits_a_trusted_version_with_the_flag_and_history_lists_the_grants(
    byo_project: Project,
    lam: Any,
    table: tuple[Any, np.ndarray],
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from forgeml.cli.registry import history_command
    from forgeml.cli.train import gate_command

    monkeypatch.setattr(output.console, "_width", 250)
    frame, _ = table
    stored = forgeml.ingest(
        frame.assign(label=frame["a"] * 2.0), name="lam-rows", project=byo_project
    ).version
    version = forgeml.log_model(
        lam,
        name="lam-gated",
        signature_from=frame,
        task="regression",
        dataset=stored.ref,
        target="label",
        trust_code=True,
        trust_reason=REASON,
        project=byo_project,
    )
    code_trust._granted.clear()
    app = typer.Typer()
    app.command("gate")(gate_command)
    app.command("history")(history_command)
    state = State(project_dir=byo_project.root)
    try:
        invoke = lambda *args: CliRunner().invoke(app, list(args), obj=state)  # noqa: E731
        refused = invoke("gate", version.ref)
        no_reason = invoke("gate", version.ref, "--trust-code")
        alone = invoke("gate", version.ref, "--trust-reason", "why")
        trusted = invoke("gate", version.ref, "--trust-code", "--trust-reason", "CI gate")
        history = invoke("history", "lam-gated")
    finally:
        state.close()
    assert isinstance(refused.exception, UntrustedModel)
    assert isinstance(no_reason.exception, ConfigError)
    assert "needs a reason" in str(no_reason.exception)
    assert alone.exit_code == 2 and "only with --trust-code" in alone.output
    assert trusted.exception is None or isinstance(trusted.exception, SystemExit)
    assert f"{version.ref} on its held-out rows" in trusted.output
    last = trust_history("lam-gated", project=byo_project)[-1]
    assert (last.action, last.reason, last.admitted) == (
        "gate",
        "CI gate",
        ["Lambda layer (Python code)"],
    )
    assert history.exit_code == 0, history.output
    assert "code trusted" in history.output
    assert "CI gate" in history.output and REASON in history.output
    assert history.output.index("CI gate") < history.output.index(REASON)  # newest first
