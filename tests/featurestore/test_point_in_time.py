"""Point-in-time joins against a brute-force oracle: ties, nulls, TTL edges, late rows, zones."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.oracle import oracle
from forgeml.errors import ConfigError, DataError
from forgeml.featurestore import (
    Aggregation,
    Entity,
    FeatureRegistry,
    FeatureView,
    get_historical_features,
)

BASE = pd.Timestamp("2024-03-30 22:00:00")  # a daylight-saving change follows in Europe


def _same(got: Any, want: Any) -> bool:
    if want is None or (isinstance(want, float) and math.isnan(want)):
        return got is None or pd.isna(got)
    if got is None or pd.isna(got):
        return False
    return bool(math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9))


def _view(ttl: str | None, created: bool) -> FeatureView:
    return FeatureView(
        "spend",
        entity="customer",
        source="tx",
        timestamp="ts",
        created_timestamp="written" if created else None,
        ttl=ttl,
        features=[
            "amount",
            Aggregation("n_1h", "count", window="1h"),
            Aggregation("amount_count_1h", "count", of="amount", window="1h"),
            Aggregation("amount_sum_10m", "sum", of="amount", window="10m"),
            Aggregation("amount_mean_1h", "mean", of="amount", window="1h"),
            Aggregation("amount_min_30m", "min", of="amount", window="30m"),
            Aggregation("amount_max_1d", "max", of="amount", window="1d"),
            Aggregation("amount_last_1h", "last", of="amount", window="1h"),
        ],
    )


minutes = st.integers(min_value=0, max_value=180)
source_rows = st.lists(
    st.tuples(
        st.sampled_from([1, 2, 3]),
        st.one_of(st.none(), minutes.map(lambda m: BASE + pd.Timedelta(minutes=m))),
        st.one_of(st.none(), st.integers(-5, 5).map(float)),
        st.one_of(st.none(), st.integers(0, 240)),  # minutes after BASE it was written
    ),
    max_size=40,
)
entity_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from([1, 2, 3, 4])),
        st.one_of(st.none(), minutes.map(lambda m: BASE + pd.Timedelta(minutes=m))),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=source_rows,
    entities=entity_rows,
    ttl=st.sampled_from([None, "1m", "15m", "2h"]),
    created=st.booleans(),
    known=st.booleans(),
    zone=st.sampled_from([None, "Europe/Paris", "America/New_York"]),
    source_zone=st.sampled_from([None, "UTC", "Asia/Kolkata"]),
)
def test_matches_the_oracle(
    source: list[tuple[Any, ...]],
    entities: list[tuple[Any, ...]],
    ttl: str | None,
    created: bool,
    known: bool,
    zone: str | None,
    source_zone: str | None,
) -> None:
    tx = pd.DataFrame(
        {
            "customer_id": pd.array([r[0] for r in source], dtype="Int64"),
            "ts": pd.to_datetime(pd.Series([r[1] for r in source], dtype="object")),
            "amount": pd.array([r[2] for r in source], dtype="Float64"),
            "written": pd.to_datetime(
                pd.Series(
                    [None if r[3] is None else BASE + pd.Timedelta(minutes=r[3]) for r in source],
                    dtype="object",
                )
            ),
        }
    )
    if source_zone:
        tx["ts"] = tx["ts"].dt.tz_localize("UTC").dt.tz_convert(source_zone)
    rows = pd.DataFrame(
        {
            "customer_id": pd.array([r[0] for r in entities], dtype="Int64"),
            "at": pd.to_datetime(pd.Series([r[1] for r in entities], dtype="object")),
            "label": range(len(entities)),
        }
    )
    if zone:
        rows["at"] = rows["at"].dt.tz_localize("UTC").dt.tz_convert(zone)
    view = _view(ttl, created)
    registry = FeatureRegistry([Entity("customer", ["customer_id"])], [view])
    got = get_historical_features(
        rows, ["spend"], registry=registry, tables={"tx": tx}, timestamp="at", known_as_of=known
    )
    # every entity row and column, in order, untouched
    assert list(got.columns[:3]) == ["customer_id", "at", "label"]
    pd.testing.assert_frame_equal(got[["customer_id", "at", "label"]], rows)
    want = oracle(rows, tx, view, ["customer_id"], "at", known=known)
    for name, expected in want.items():
        for i, value in enumerate(expected):
            assert _same(got[name].iloc[i], value), (name, i, got[name].iloc[i], value)


def _registry(*views: FeatureView) -> FeatureRegistry:
    return FeatureRegistry([Entity("customer", ["customer_id"])], views)


def test_ttl_edge_is_inclusive_and_ties_go_to_the_latest_write() -> None:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:00", "2024-01-01 00:00"]),
            "written": pd.to_datetime(["2024-01-01 00:05", "2024-01-01 00:09", "2024-01-01 00:01"]),
            "amount": [1.0, 2.0, 3.0],
        }
    )
    view = FeatureView(
        "spend",
        entity="customer",
        source="tx",
        timestamp="ts",
        created_timestamp="written",
        ttl="1h",
        features=["amount"],
    )
    rows = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "at": pd.to_datetime(
                ["2024-01-01 01:00:00", "2024-01-01 01:00:01", "2024-01-01 00:06:00"]
            ),
        }
    )
    got = get_historical_features(
        rows, "spend:amount", registry=_registry(view), tables={"tx": tx}, timestamp="at"
    )
    assert got["amount"].tolist()[:1] == [2.0]  # exactly ttl old: still valid; latest write
    assert pd.isna(got["amount"].iloc[1])  # one second past the TTL
    known = get_historical_features(
        rows,
        "spend:amount",
        registry=_registry(view),
        tables={"tx": tx},
        timestamp="at",
        known_as_of=True,
    )
    assert known["amount"].iloc[2] == 1.0  # at 00:06 the 00:09 correction was not yet written


def test_clashing_names_are_prefixed_with_the_view() -> None:
    tx = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2024-01-01"]), "amount": [4.0]})
    a = FeatureView("a", entity="customer", source="tx", timestamp="ts", features=["amount"])
    b = FeatureView("b", entity="customer", source="tx", timestamp="ts", features=["amount"])
    rows = pd.DataFrame({"customer_id": [1], "at": pd.to_datetime(["2024-02-01"])})
    got = get_historical_features(
        rows, ["a:amount", "b:amount"], registry=_registry(a, b), tables={"tx": tx}, timestamp="at"
    )
    assert list(got.columns) == ["customer_id", "at", "a__amount", "b__amount"]
    assert got.attrs["feature_views"] == {"tx": "tx"}


def test_entity_less_retrieval_covers_the_range() -> None:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 2, 1, 2],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-09"]),
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )
    view = FeatureView(
        "spend",
        entity="customer",
        source="tx",
        timestamp="ts",
        features=["amount", Aggregation("total", "sum", of="amount", window="30d")],
    )
    got = get_historical_features(
        None,
        "spend",
        registry=_registry(view),
        tables={"tx": tx},
        start="2024-01-02",
        end="2024-01-05",
    )
    assert got["customer_id"].tolist() == [2, 1]
    assert got["amount"].tolist() == [2.0, 3.0]
    assert got["total"].tolist() == [2.0, 4.0]


def test_bad_input_is_named() -> None:
    tx = pd.DataFrame({"customer_id": [1], "ts": pd.to_datetime(["2024-01-01"]), "amount": [4.0]})
    view = FeatureView("spend", entity="customer", source="tx", timestamp="ts", features=["amount"])
    rows = pd.DataFrame({"customer": [1], "at": pd.to_datetime(["2024-02-01"])})
    with pytest.raises(DataError, match="no column 'customer_id'"):
        get_historical_features(
            rows, "spend", registry=_registry(view), tables={"tx": tx}, timestamp="at"
        )
    rows = pd.DataFrame({"customer_id": [1], "at": ["not a time"]})
    with pytest.raises(DataError, match="not timestamps"):
        get_historical_features(
            rows, "spend", registry=_registry(view), tables={"tx": tx}, timestamp="at"
        )
    with pytest.raises(ConfigError, match="no feature 'amt'"):
        get_historical_features(rows, "spend:amt", registry=_registry(view), tables={"tx": tx})
    bad = FeatureView("spend", entity="customer", source="tx", timestamp="ts", features=["nope"])
    rows = pd.DataFrame({"customer_id": [1], "at": pd.to_datetime(["2024-02-01"])})
    with pytest.raises(DataError, match="feature view 'spend' could not be joined"):
        get_historical_features(
            rows, "spend", registry=_registry(bad), tables={"tx": tx}, timestamp="at"
        )


def test_several_keys_of_several_types_match_the_oracle() -> None:
    rng = np.random.default_rng(7)
    n = 300
    tx = pd.DataFrame(
        {
            "shop": rng.choice(["a", "b", "ü", None], n),
            "customer_id": pd.array(rng.integers(0, 6, n), dtype="Int64"),
            "ts": BASE + pd.to_timedelta(rng.integers(0, 50, n), "min"),  # many ties
            "written": BASE + pd.to_timedelta(rng.integers(0, 9, n), "s"),
            "amount": rng.normal(size=n),
        }
    )
    tx.loc[rng.random(n) < 0.1, "customer_id"] = None
    view = FeatureView(
        "spend",
        entity="pair",
        source="tx",
        timestamp="ts",
        created_timestamp="written",
        ttl="20m",
        features=["amount", "shop"],
    )
    registry = FeatureRegistry([Entity("pair", ["shop", "customer_id"])], [view])
    rows = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 8, 120).astype("int32"),  # the source has Int64
            "shop": rng.choice(["a", "b", "ü", "z"], 120),
            "at": BASE + pd.to_timedelta(rng.integers(-5, 70, 120), "min"),
        }
    )
    got = get_historical_features(
        rows, "spend", registry=registry, tables={"tx": tx}, timestamp="at"
    )
    want = oracle(rows, tx, view, ["shop", "customer_id"], "at")
    assert all(_same(g, w) for g, w in zip(got["amount"], want["amount"], strict=True))
    assert [None if pd.isna(v) else v for v in got["spend__shop"]] == want["shop"]
    assert sum(v is not None for v in want["amount"]) > 30  # matches, not only nulls
    with pytest.raises(DataError, match="'customer_id' holds list<item: int64> values"):
        get_historical_features(
            rows.assign(customer_id=[[1]] * 120),
            "spend",
            registry=registry,
            tables={"tx": tx},
            timestamp="at",
        )
