"""forgeml export --format onnx: parity with the stored model, for each flavor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import forgeml
from forgeml.errors import ConfigError
from forgeml.flavors import onnx_flavor
from forgeml.flavors.nets import MLP, SmallCNN
from forgeml.onnx_export import PARITY, export_onnx
from forgeml.project import Project

Table = tuple[pd.DataFrame, np.ndarray]


def _models(table: Table) -> dict[str, object]:
    import lightgbm
    import xgboost
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, y = table
    columns = ColumnTransformer([("s", StandardScaler(), ["a", "b"]), ("p", "passthrough", ["c"])])
    return {
        "sklearn": make_pipeline(columns, LogisticRegression()).fit(frame, y),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, y),
        "xgboost": xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(frame, y),
    }


@pytest.mark.parametrize("flavor", ["sklearn", "lightgbm", "xgboost"])
def test_tabular_models_export_with_parity(
    byo_project: Project, table: Table, tmp_path: Path, flavor: str
) -> None:
    frame, _ = table
    model = _models(table)[flavor]
    version = forgeml.log_model(
        model, name=f"x-{flavor}", signature_from=frame, project=byo_project
    )
    out = export_onnx(version.ref, tmp_path / f"{flavor}.onnx", project=byo_project)
    assert out.max_abs_diff <= PARITY and out.path.stat().st_size == out.size
    # the written graph, run by itself, answers what the fitted object answers
    session = onnx_flavor.load({"model": out.path.read_bytes()})
    x = frame.to_numpy(dtype=np.float32)
    got = onnx_flavor.predict(session, x)
    np.testing.assert_allclose(got[:, 1], model.predict_proba(frame)[:, 1], atol=1e-5)  # type: ignore[attr-defined]


def test_torch_modules_export_with_parity(byo_project: Project, tmp_path: Path) -> None:
    torch.manual_seed(0)
    images = np.zeros((2, 1, 8, 8), dtype=np.float32)
    cnn = forgeml.log_model(
        SmallCNN(classes=3, width=4),
        name="x-cnn",
        signature_from=images,
        task="multiclass",
        classes=[0, 1, 2],
        project=byo_project,
    )
    mlp = forgeml.log_model(
        MLP(inputs=3, outputs=1, hidden=[8]),
        name="x-mlp",
        signature_from=np.zeros((2, 3), dtype=np.float32),
        task="regression",
        project=byo_project,
    )
    for version in (cnn, mlp):
        out = export_onnx(version.ref, tmp_path / f"{version.name}.onnx", project=byo_project)
        assert out.max_abs_diff <= PARITY and out.rows == 64


def test_an_onnx_version_is_not_exported_again(byo_project: Project, tmp_path: Path) -> None:
    version = forgeml.log_model(
        MLP(inputs=2, outputs=1, hidden=[2]),
        name="x-again",
        signature_from=np.zeros((1, 2), dtype=np.float32),
        task="regression",
        project=byo_project,
    )
    exported = export_onnx(version.ref, tmp_path / "m.onnx", project=byo_project)
    onnx_version = forgeml.log_model(
        exported.path.read_bytes(),
        name="x-onnx",
        signature_from=np.zeros((1, 2), dtype=np.float32),
        task="regression",
        project=byo_project,
    )
    with pytest.raises(ConfigError, match="ONNX model already"):
        export_onnx(onnx_version.ref, tmp_path / "again.onnx", project=byo_project)
    assert not (tmp_path / "again.onnx").exists()


def test_the_export_command_writes_the_file(
    byo_project: Project, table: Table, tmp_path: Path
) -> None:
    import typer
    from typer.testing import CliRunner

    from forgeml.cli.context import State
    from forgeml.cli.deploy import export_command

    frame, _ = table
    version = forgeml.log_model(
        _models(table)["lightgbm"], name="x-cli", signature_from=frame, project=byo_project
    )
    app = typer.Typer()
    app.command("export")(export_command)
    app.command("unused")(lambda: None)
    state = State(project_dir=byo_project.root)
    target = tmp_path / "cli.onnx"
    try:
        done = CliRunner().invoke(
            app, ["export", version.ref, str(target), "--format", "onnx"], obj=state
        )
        wrong = CliRunner().invoke(
            app, ["export", version.ref, str(target), "--format", "pmml"], obj=state
        )
    finally:
        state.close()
    assert done.exit_code == 0, done.output
    assert target.stat().st_size > 0 and "max abs difference" in done.output
    assert wrong.exit_code != 0 and "use one of" in wrong.output
