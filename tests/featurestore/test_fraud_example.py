"""The fraud example end to end: point-in-time training set, materialize, serve by entity key,
and the served features in the prediction log."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from forgeml.data import ingest
from forgeml.featurestore import get_historical_features
from forgeml.featurestore.materialize import materialize
from forgeml.featurestore.online import open_online_store
from forgeml.monitor.run import monitor
from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.deployment import Deployment
from forgeml.serve.predlog import PredictionLog, read_predictions
from forgeml.training.trainer import train
from serve.asgi import InProcessClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud"


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("fraud_generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fraud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("fraud")
    shutil.copy(EXAMPLE / "forgeml.yaml", root / "forgeml.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        patch.delenv("FORGEML_ONLINE_URL", raising=False)
        _generator().main([str(root / "data"), "--days", "20"])  # type: ignore[attr-defined]
        project = Project.init(root)
        ingest(str(root / "data" / "transactions.parquet"), name="transactions", project=project)
        ingest(str(root / "data" / "chargebacks.parquet"), name="chargebacks", project=project)
        yield project
        project.close()


def test_training_rows_see_only_the_past(fraud: Project) -> None:
    rows = pd.read_parquet(fraud.root / "data" / "transactions.parquet").head(400)
    chargebacks = pd.read_parquet(fraud.root / "data" / "chargebacks.parquet")
    got = get_historical_features(rows, "fraud", project=fraud, timestamp="scored_at")
    assert got.attrs["feature_views"] == {
        "transactions": "transactions@1",
        "chargebacks": "chargebacks@1",
    }
    # a chargeback counts only once it is reported: none can precede the first payments
    first = rows.iloc[0]
    reported = chargebacks[
        (chargebacks["merchant_id"] == first["merchant_id"])
        & (chargebacks["reported_at"] <= first["scored_at"])
    ]
    assert got["chargebacks_30d"].iloc[0] == len(reported) == 0
    # the payment itself is not among its own features (scored a second before it is recorded)
    assert (got["spend_count_1h"] >= 0).all()
    one = rows.iloc[200]
    same = rows[(rows["customer_id"] == one["customer_id"]) & (rows["ts"] <= one["scored_at"])]
    recent = same[same["ts"] > one["scored_at"] - pd.Timedelta(hours=1)]
    assert got["spend_count_1h"].iloc[200] == len(recent)


def test_trains_materializes_serves_and_logs_features(fraud: Project) -> None:
    result = train(project=fraud, trials=2, time_budget="60s")
    assert result.model is not None, result.gate
    lineage = result.model.lineage["features"]
    assert lineage["service"] == "fraud"
    assert lineage["views"] == {"transactions": "transactions@1", "chargebacks": "chargebacks@1"}
    inputs = [c["name"] for c in result.model.signature["inputs"]]
    assert "spend_sum_1d" in inputs and "chargebacks_30d" in inputs and "amount" in inputs
    assert "customer_id" not in inputs and "scored_at" not in inputs

    with open_online_store(f"sqlite:///{fraud.state_dir / 'online.db'}") as store:
        done = materialize(project=fraud, store=store)
    assert {r.view for r in done} == {"customer_spend", "merchant_risk"}

    deployment = Deployment(fraud, "transactions")
    deployment.refresh()
    assert deployment.serving is not None
    scorer = deployment.serving.champion
    log = PredictionLog(fraud, "transactions", scorer.schema.inputs)
    app = ModelServer(deployment, options=ServeOptions(freeze_gc=False), prediction_log=log)
    client = InProcessClient(app)
    try:
        rows = pd.read_parquet(fraud.root / "data" / "transactions.parquet")
        busy = rows["customer_id"].value_counts().index[0]
        shop = rows[rows["customer_id"] == busy]["merchant_id"].iloc[-1]
        status, reply, _ = client.post(
            "/predict", {"customer_id": int(busy), "merchant_id": shop, "amount": 42.0}
        )
        assert status == 200, reply
        assert reply["passthrough"]["customer_id"] == [int(busy)]
        status, refused, _ = client.post("/predict", {"merchant_id": shop, "amount": 1.0})
        assert status == 422 and refused["problems"][0]["field"] == "customer_id"
        app.stop()
        logged = read_predictions(fraud, "transactions").to_pandas()
    finally:
        client.close()
        scorer.served_features.close()  # type: ignore[union-attr]
    assert len(logged) == 1
    online = scorer.served_features.lookup.get({"customer_id": int(busy), "merchant_id": shop})  # type: ignore[union-attr]
    assert logged["spend_mean_30d"].iloc[0] == pytest.approx(online["spend_mean_30d"])
    assert logged["spend_mean_30d"].notna().all()

    report = monitor("transactions", project=fraud, window=timedelta(days=1))
    assert report.windows[-1].rows == 1
    profile = report.window_profiles[-1]
    assert profile.rows == 1
    assert {"spend_mean_30d", "chargebacks_30d", "amount"} <= set(profile.columns)
