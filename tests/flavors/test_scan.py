"""forgeml scan lists parts that would need pickle; loading one is refused."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import forgeml
from forgeml.cli import output
from forgeml.cli.artifacts import scan_command
from forgeml.cli.context import State
from forgeml.errors import UntrustedModel
from forgeml.project import Project
from forgeml.registry.bundle import read_manifest
from forgeml.registry.scan import scan
from forgeml.store import registry as queries

Table = tuple[pd.DataFrame, np.ndarray]


def _scan_cli(project: Project) -> tuple[int, str]:
    app = typer.Typer()
    app.command("scan")(scan_command)
    app.command("unused")(lambda: None)  # two commands keep "scan" a subcommand
    state = State(project_dir=project.root)
    try:
        result = CliRunner().invoke(app, ["scan"], obj=state)
    finally:
        state.close()
    return result.exit_code, result.output


def test_scan_passes_safe_models_and_flags_a_pickled_part(
    byo_project: Project, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setattr(output.console, "_width", 200)
    frame, y = table
    good = forgeml.log_model(
        LogisticRegression().fit(frame, y),
        name="scan",
        signature_from=frame,
        project=byo_project,
    )
    assert all(p.safe for p in scan(project=byo_project))
    code, text = _scan_cli(byo_project)
    assert code == 0 and "none needs pickle" in text

    # a version whose model part is a pickle, written behind forgeml's back
    manifest = read_manifest(good.artifact_sha256, byo_project.artifacts)
    manifest["parts"]["model"] = byo_project.artifacts.put_bytes(pickle.dumps({"w": [1.0]}))
    forged = byo_project.artifacts.put_bytes(json.dumps(manifest).encode())
    with byo_project.store.write() as session:
        queries.add_version(
            session,
            name="scan",
            flavor="sklearn",
            artifact_sha256=forged,
            signature=good.signature,
            metrics={},
            lineage={},
            card_sha256=None,
            run_id=None,
            created_by="test",
            artifacts=[(forged, 1, "model/bundle")],
        )
    flagged = [p for p in scan(project=byo_project) if not p.safe]
    assert [(p.ref, p.part) for p in flagged] == [("scan@2", "model")]
    assert "pickle stream" in (flagged[0].pickle or "")
    code, text = _scan_cli(byo_project)
    assert code == 1 and "scan@2" in text and "would need pickle" in text
    with pytest.raises(UntrustedModel, match="would run pickle"):
        forgeml.load_model("scan@2", project=byo_project)
