"""On-demand views: one function, the same values offline and online, clear errors."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from forgeml.config import parse_spec
from forgeml.errors import ConfigError, DataError, InputRejected
from forgeml.featurestore import (
    Aggregation,
    Entity,
    FeatureRegistry,
    FeatureView,
    OnDemandView,
    get_historical_features,
    on_demand_view,
)
from forgeml.featurestore.lookup import OnlineFeatures
from forgeml.featurestore.materialize import materialize
from forgeml.featurestore.online import OnlineStore, open_online_store

REDIS_URL = "redis://127.0.0.1:6379/11"
END = pd.Timestamp("2024-01-20 12:00:00")


@on_demand_view(
    inputs={"amount": "float", "spend:spend_mean_7d": "float", "channel": "str"},
    features={"amount_vs_mean": "float", "large": "bool", "tag": "str"},
)
def payment_risk(inputs: Mapping[str, Any]) -> dict[str, Any]:
    ratio = inputs["amount"] / inputs["spend_mean_7d"]
    return {
        "amount_vs_mean": ratio,
        "large": np.nan_to_num(ratio) > 2,
        "tag": np.array([f"{c}:{r > 1}" for c, r in zip(inputs["channel"], ratio, strict=True)]),
    }


def _registry(*extra: OnDemandView) -> FeatureRegistry:
    return FeatureRegistry(
        [Entity("customer", ["customer_id"])],
        [
            FeatureView(
                "spend",
                entity="customer",
                source="tx",
                timestamp="ts",
                ttl="3d",
                features=["amount", Aggregation("spend_mean_7d", "mean", of="amount", window="7d")],
            ),
            payment_risk,
            *extra,
        ],
        {"risk": ["payment_risk", "spend:amount"]},
    )


def _transactions() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = 300
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 20, rows),
            "amount": rng.gamma(2.0, 20.0, rows).round(2),
            "ts": pd.Timestamp("2024-01-05")
            + pd.to_timedelta(rng.integers(0, 15 * 86400, rows), "s"),
        }
    )


def _requests(customers: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": customers,
            "amount": [float(10 + 7 * i) for i in range(len(customers))],
            "channel": ["web" if i % 2 else "app" for i in range(len(customers))],
            "at": END,
        }
    )


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        found = open_online_store(f"sqlite:///{tmp_path / 'online.db'}")
    else:
        found = open_online_store(f"{REDIS_URL}?prefix=test-{uuid.uuid4().hex}")
    yield found
    if request.param == "redis":
        found.clear()  # type: ignore[attr-defined]
    found.close()


def _same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and np.isnan(a)):
        return b is None or bool(pd.isna(b))
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    return bool(np.isclose(float(a), float(b), rtol=1e-12))


def test_the_same_rows_get_the_same_values_offline_and_online(store: OnlineStore) -> None:
    tx = _transactions()
    registry = _registry()
    materialize(registry=registry, store=store, tables={"tx": tx}, end=END)
    rows = _requests([*sorted(set(tx["customer_id"].tolist())), 999])  # 999 was never seen
    offline = get_historical_features(
        rows, "risk", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    columns = offline.attrs["feature_columns"]
    assert columns == {
        "amount_vs_mean": "payment_risk:amount_vs_mean",
        "large": "payment_risk:large",
        "tag": "payment_risk:tag",
        "spend__amount": "spend:amount",  # the request has an "amount" of its own
    }
    online = OnlineFeatures(registry, "risk", store, names=columns)  # as serving builds it
    served = online.get_many(rows.drop(columns="at").to_dict("records"), now=END)
    assert online.names == list(columns)
    assert "spend_mean_7d" not in offline.columns  # an input only, not asked for
    assert sorted(served[0]) == sorted(online.names)
    for i, values in enumerate(served):
        for name in online.names:
            assert _same(values[name], offline[name].iloc[i]), (name, i, values[name])
    # the function really ran on the joined feature and the request's fields
    i = 3
    mean = tx[tx["customer_id"] == rows["customer_id"][i]]
    mean = mean[mean["ts"] > END - pd.Timedelta(days=7)]["amount"].mean()
    assert offline["amount_vs_mean"].iloc[i] == pytest.approx(rows["amount"][i] / mean)
    assert offline["tag"].iloc[i] == f"web:{rows['amount'][i] / mean > 1}"
    assert pd.isna(offline["amount_vs_mean"].iloc[-1]) and served[-1]["amount_vs_mean"] is None
    assert offline["large"].dtype == bool and served[-1]["large"] is False
    # one request, one entity: the same value as in the batch
    one = online.get(rows.drop(columns="at").iloc[i].to_dict(), now=END)
    assert one["amount_vs_mean"] == served[i]["amount_vs_mean"]


def test_a_missing_input_is_a_clear_error(store: OnlineStore) -> None:
    tx = _transactions()
    registry = _registry()
    rows = _requests([1, 2]).drop(columns="channel")
    with pytest.raises(DataError, match="needs request field 'channel'"):
        get_historical_features(rows, "risk", registry=registry, tables={"tx": tx}, timestamp="at")
    online = OnlineFeatures(registry, "payment_risk", store)
    with pytest.raises(InputRejected) as refused:
        online.get_many(
            [{"customer_id": 1, "amount": 3.0, "channel": "web"}, {"customer_id": 2, "amount": 1.0}]
        )
    assert refused.value.problems == [{"field": "channel", "row": 1, "problem": "is missing"}]


def test_declared_types_and_features_are_checked() -> None:
    tx = _transactions()
    rows = _requests([1, 2])

    @on_demand_view(inputs={"amount": "float"}, features={"doubled": "int"})
    def doubled(inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {"doubled": inputs["amount"] * 2}

    @on_demand_view(inputs={"amount": "float"}, features={"half": "float"})
    def wrong_name(inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {"halve": inputs["amount"] / 2}

    @on_demand_view(inputs={"amount": "float"}, features={"total": "float"})
    def scalar(inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {"total": inputs["amount"].sum()}

    registry = _registry(doubled, wrong_name, scalar)
    got = get_historical_features(
        rows, "doubled", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    assert got["doubled"].tolist() == [20, 34] and got["doubled"].dtype == np.int64
    with pytest.raises(DataError, match="declared int but holds missing values"):
        get_historical_features(
            rows.assign(amount=[1.0, None]),
            "doubled",
            registry=registry,
            tables={"tx": tx},
            timestamp="at",
        )
    with pytest.raises(DataError, match="returned features halve; declared: half"):
        get_historical_features(
            rows, "wrong_name", registry=registry, tables={"tx": tx}, timestamp="at"
        )
    with pytest.raises(DataError, match=r"has shape \(\), expected \(2,\)"):
        get_historical_features(
            rows, "scalar", registry=registry, tables={"tx": tx}, timestamp="at"
        )
    with pytest.raises(DataError, match="input 'amount' of 'doubled' must be float"):
        get_historical_features(
            rows.assign(amount=["a", "b"]),
            "doubled",
            registry=registry,
            tables={"tx": tx},
            timestamp="at",
        )
    with pytest.raises(ConfigError, match="unknown type 'decimal'"):
        OnDemandView("x", doubled.function, {"amount": "decimal"}, {"y": "float"})
    with pytest.raises(ConfigError, match="has no feature 'nope'"):
        _registry(OnDemandView("x", doubled.function, {"spend:nope": "float"}, {"y": "float"}))


def test_defined_in_yaml_with_a_module_function(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"fraud_rules_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def ratio(inputs):\n    return {'ratio': inputs['amount'] / inputs['spend_mean_7d']}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = f"""
entities:
  customer: {{join_keys: [customer_id]}}
feature_views:
  spend:
    entity: customer
    source: tx
    timestamp: ts
    features: [{{name: spend_mean_7d, agg: mean, of: amount, window: 7d}}]
on_demand_views:
  checks:
    function: {module}:ratio
    inputs: {{amount: float, "spend:spend_mean_7d": float}}
    features: {{ratio: float}}
feature_services:
  risk: [checks]
"""
    registry = FeatureRegistry.from_spec(spec)
    tx = _transactions()
    rows = _requests([1, 2, 3])
    got = get_historical_features(
        rows, "risk", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    plain = get_historical_features(
        rows, "spend", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    assert np.allclose(got["ratio"], rows["amount"] / plain["spend_mean_7d"])
    with pytest.raises(
        ConfigError, match=r"on_demand_views\.checks\.inputs: view 'spend' has no feature 'mean'"
    ):
        parse_spec(spec.replace('"spend:spend_mean_7d"', '"spend:mean"'))
    broken = FeatureRegistry.from_spec(spec.replace(f"{module}:ratio", "no_such_module:f"))
    with pytest.raises(ConfigError, match="cannot be imported"):
        get_historical_features(rows, "risk", registry=broken, tables={"tx": tx}, timestamp="at")
    sys.modules.pop(module, None)


def test_a_model_trained_with_it_gets_it_when_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forgeml.config import TrainSpec
    from forgeml.data import ingest
    from forgeml.featurestore.serving import ServedFeatures
    from forgeml.featurestore.training import join_training_features
    from forgeml.project import Project

    module = f"risk_rules_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\n"
        "def ratio(inputs):\n"
        "    return {'ratio': inputs['amount'] / inputs['spend_mean_7d']}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "forgeml.yaml").write_text(
        f"""project: risk
entities:
  customer: {{join_keys: [customer_id]}}
feature_views:
  spend:
    entity: customer
    source: tx
    timestamp: ts
    features: [{{name: spend_mean_7d, agg: mean, of: amount, window: 7d}}]
on_demand_views:
  checks:
    function: {module}:ratio
    inputs: {{amount: float, "spend:spend_mean_7d": float}}
    features: {{ratio: float}}
feature_services:
  risk: [checks]
"""
    )
    project = Project.init(root)
    try:
        ingest(_transactions(), name="tx", project=project)
        payments = _requests([1, 2, 3, 999]).drop(columns="channel")
        joined = join_training_features(
            project,
            pa.Table.from_pandas(payments, preserve_index=False),
            TrainSpec(features="risk", feature_timestamp="at"),
            lambda _text: None,
        )
        assert joined.lineage["definitions"]["on_demand_views"]["checks"]["function"] == (
            f"{module}:ratio"
        )
        assert joined.lineage["columns"] == {"ratio": "checks:ratio"}
        trained = joined.table.column("ratio").to_pylist()
        url = f"sqlite:///{root / '.forgeml' / 'online.db'}"
        with open_online_store(url) as store:
            materialize(project=project, store=store, end=END)
        served = ServedFeatures(joined.lineage, url)
        try:
            records = payments.drop(columns="at").to_dict("records")
            got = served.enrich({"records": records})["records"]
        finally:
            served.close()
        assert [r["ratio"] for r in got][:3] == pytest.approx(trained[:3])
        assert got[3]["ratio"] is None and trained[3] is None  # no history: missing both ways
    finally:
        project.close()
        sys.modules.pop(module, None)
