"""Materialization into SQLite and Redis: parity with the offline join, resume, increments."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forgeml.data import ingest
from forgeml.errors import InputRejected
from forgeml.featurestore import (
    Aggregation,
    Entity,
    FeatureRegistry,
    FeatureView,
    get_historical_features,
)
from forgeml.featurestore.lookup import OnlineFeatures
from forgeml.featurestore.materialize import materialize
from forgeml.featurestore.online import OnlineStore, open_online_store
from forgeml.project import Project

REDIS_URL = "redis://127.0.0.1:6379/11"
END = pd.Timestamp("2024-01-20 12:00:00")


def _registry(source: str = "tx") -> FeatureRegistry:
    return FeatureRegistry(
        [Entity("customer", ["customer_id"]), Entity("merchant", ["merchant_id"])],
        [
            FeatureView(
                "spend",
                entity="customer",
                source=source,
                timestamp="ts",
                ttl="2d",
                features=[
                    "amount",
                    Aggregation("n_1d", "count", window="1d"),
                    Aggregation("amount_sum_7d", "sum", of="amount", window="7d"),
                    Aggregation("amount_max_1h", "max", of="amount", window="1h"),
                ],
            ),
            FeatureView(
                "shop",
                entity="merchant",
                source=source,
                timestamp="ts",
                features=["amount", Aggregation("n_30d", "count", window="30d")],
            ),
        ],
        {"fraud": ["spend", "shop:n_30d"]},
    )


def _transactions(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 30, rows),
            "merchant_id": rng.integers(0, 8, rows).astype(str),
            "amount": rng.gamma(2.0, 20.0, rows).round(2),
            "ts": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 20 * 86400, rows), "s"),
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
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or bool(pd.isna(b))
    if b is None or pd.isna(b):
        return False
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    return math.isclose(float(a), float(b), rel_tol=1e-9)


def test_online_equals_offline_point_in_time(store: OnlineStore) -> None:
    tx = _transactions()
    registry = _registry()
    done = materialize(registry=registry, store=store, tables={"tx": tx}, end=END, chunk="3d")
    assert [r.view for r in done] == ["spend", "shop"]
    assert done[0].chunks == 7  # 20 days and a half in 3-day chunks
    customers = [*sorted(set(tx["customer_id"])), 999]  # one never seen
    merchants = sorted(set(tx["merchant_id"]))
    rows = pd.DataFrame(
        {
            "customer_id": customers,
            "merchant_id": [merchants[i % len(merchants)] for i in range(len(customers))],
            "at": END,
        }
    )
    offline = get_historical_features(
        rows, "fraud", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    online = OnlineFeatures(registry, "fraud", store)
    served = online.get_many(rows.to_dict("records"), now=END)
    assert online.names == ["amount", "n_1d", "amount_sum_7d", "amount_max_1h", "n_30d"]
    for i, values in enumerate(served):
        for name in online.names:
            want = offline[name].iloc[i]
            got = values[name]
            assert _same(got, want), (name, i, got, want)
    # the TTL applies at read time: two days and a second later the latest rows are stale
    later = online.get(
        {"customer_id": customers[0], "merchant_id": "0"}, now=END + pd.Timedelta(days=5)
    )
    assert later["amount"] is None and later["amount_sum_7d"] is not None
    with pytest.raises(InputRejected, match="customer_id"):
        online.get({"merchant_id": "0"})


class _Crash(Exception):
    pass


class _CrashingStore(OnlineStore):
    """Passes writes to a real store and fails on the ``fail_at``-th."""

    def __init__(self, inner: OnlineStore, fail_at: int) -> None:
        self.inner, self.fail_at, self.writes = inner, fail_at, 0

    def write(self, view: str, rows: Sequence[tuple[str, int, bytes]]) -> None:
        self.writes += 1
        if self.writes == self.fail_at:
            raise _Crash
        self.inner.write(view, rows)

    def read(self, refs: Sequence[tuple[str, str]]) -> list[Any]:
        return self.inner.read(refs)

    def watermark(self, view: str) -> Any:
        return self.inner.watermark(view)

    def set_watermark(self, view: str, mark: Any) -> None:
        self.inner.set_watermark(view, mark)

    def close(self) -> None:
        self.inner.close()


def test_a_killed_run_resumes_from_its_watermark(store: OnlineStore, tmp_path: Path) -> None:
    tx = _transactions()
    registry = _registry()
    crashing = _CrashingStore(store, fail_at=4)
    with pytest.raises(_Crash):
        materialize(
            registry=registry,
            store=crashing,
            tables={"tx": tx},
            end=END,
            chunk="2d",
            views=["spend"],
            batch_rows=50,
        )
    mark = store.watermark("spend")
    assert mark is not None and pd.Timestamp(mark["end"]) < END  # stopped part way
    resumed = materialize(
        registry=registry, store=store, tables={"tx": tx}, end=END, chunk="2d", views=["spend"]
    )
    assert pd.Timestamp(resumed[0].start) == pd.Timestamp(mark["end"])
    reference = open_online_store(f"sqlite:///{tmp_path / 'reference.db'}")
    materialize(registry=registry, store=reference, tables={"tx": tx}, end=END, views=["spend"])
    entities = [{"customer_id": c} for c in range(30)]
    want = OnlineFeatures(registry, "spend", reference).get_many(entities, now=END)
    assert OnlineFeatures(registry, "spend", store).get_many(entities, now=END) == want
    reference.close()


def test_incremental_runs_process_only_new_versions(sqlite_project: Project) -> None:
    tx = _transactions()
    cut = pd.Timestamp("2024-01-15")
    first, second = tx.iloc[:200][lambda f: f["ts"] <= cut], tx  # late rows come in version 2
    ingest(first.sort_values("ts"), name="transactions", project=sqlite_project)
    registry = _registry("transactions")
    store = open_online_store(f"sqlite:///{sqlite_project.state_dir / 'online.db'}")
    try:
        done = materialize(
            project=sqlite_project, registry=registry, store=store, end=cut, views=["spend"]
        )
        assert done[0].versions == {"transactions": "transactions@1"}
        again = materialize(
            project=sqlite_project, registry=registry, store=store, end=cut, views=["spend"]
        )
        assert again[0].skipped and again[0].rows == 0
        ingest(second, name="transactions", project=sqlite_project)
        more = materialize(
            project=sqlite_project, registry=registry, store=store, end=END, views=["spend"]
        )
        assert not more[0].skipped and more[0].versions == {"transactions": "transactions@2"}
        assert pd.Timestamp(more[0].start) < cut  # late rows of the new version are read too
        known = second[second["ts"] <= END]
        latest = known.sort_values("ts").groupby("customer_id").tail(1).set_index("customer_id")
        online = OnlineFeatures(registry, "spend:amount", store)
        for customer, row in latest.iterrows():
            fresh = row["ts"] >= END - pd.Timedelta(days=2)
            got = online.get({"customer_id": customer}, now=END)["amount"]
            assert got == (row["amount"] if fresh else None)
    finally:
        store.close()
