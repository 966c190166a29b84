"""The requirements an export writes name the distributions installed here (xgboost-cpu, not
xgboost, where that is what pip installed), and an XGBoost model goes out and back intact."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import xgboost
from packaging.requirements import Requirement

from deploy.models import forgeml_scores, rows
from forgeml.deploy.mlflow_export import export_mlflow
from forgeml.deploy.mlflow_import import import_mlflow
from forgeml.deploy.requirements import installed, model_packages
from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.registry import ModelBundle, register_model
from forgeml.serve.server import ServeSettings, build_app
from forgeml.training.predict import Predictor
from serve.asgi import InProcessClient
from serve.serving import credit_table, fit_bundle


@pytest.fixture(scope="module")
def boost_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A project with ``boost@1``: an XGBoost booster over forgeml's preprocessing."""
    project = Project.init(tmp_path_factory.mktemp("boost"), name="boost")
    table = credit_table(rows=300)
    bundle, signature = fit_bundle(table, flavor="sklearn")
    x = Predictor(bundle).pipeline.transform(table)
    y = np.asarray(table.column("default").to_pylist(), dtype=int)
    params = {"objective": "binary:logistic", "nthread": 1}
    booster = xgboost.train(params, xgboost.DMatrix(x, y), num_boost_round=10)
    boost = ModelBundle("xgboost", booster, bundle.features, bundle.extras)
    register_model("boost", boost, signature=signature, metrics={}, lineage={}, project=project)
    yield project
    project.close()


def _provides(distribution: str, module: str) -> bool:
    files = metadata.distribution(distribution).files or []
    return any(f.parts[0] in (module, f"{module}.py") for f in files)


def test_installed_names_the_distribution_that_provides_a_module() -> None:
    assert installed("sklearn") == "scikit-learn"
    assert installed("yaml") == "PyYAML"
    assert installed("sklearn.linear_model") == "scikit-learn"
    boost = installed("xgboost")  # xgboost or xgboost-cpu, whichever is here
    assert _provides(boost, "xgboost")
    assert model_packages("xgboost")[-1] == boost
    with pytest.raises(ConfigError, match="'no_such_module' is not installed") as missing:
        installed("no_such_module")
    assert "install no_such_module" in missing.value.fix


def test_xgboost_export_requires_what_is_installed_and_round_trips(
    boost_project: Project, tmp_path: Path
) -> None:
    out = export_mlflow("boost@1", tmp_path / "mlflow", project=boost_project)
    lines = (out / "requirements.txt").read_text().split()
    requirements = [Requirement(line) for line in lines]
    for requirement in requirements:  # each one is already satisfied here: pip resolves it
        found = metadata.version(requirement.name)
        assert requirement.specifier.contains(found), (requirement, found)
    names = {r.name for r in requirements}
    assert installed("xgboost") in names
    assert _provides(installed("xgboost"), "xgboost")

    records = rows(12)
    expected = forgeml_scores(boost_project, "boost@1", records)
    back = import_mlflow(out, "boost_back", project=boost_project)
    assert np.array_equal(forgeml_scores(boost_project, back.ref, records), expected)

    app = build_app(ServeSettings(model_dir=str(out / "forgeml")))
    client = InProcessClient(app)
    try:
        status, body, _ = client.post("/predict", {"records": records})
        assert status == 200, body
        assert np.allclose(body["scores"], expected[:, 1], atol=1e-9)
    finally:
        app.stop()
        client.close()
