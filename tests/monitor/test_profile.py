"""Window profiles count exactly what numpy counts, merge exactly, and store losslessly."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from forgeml.errors import DataError
from forgeml.monitor import (
    CategoryProfile,
    NumericProfile,
    WindowProfile,
    fit_reference,
    merge_profiles,
    profile_window,
)
from forgeml.serve.logschema import INPUT_KEY


def _table(rng: np.random.Generator, n: int) -> pa.Table:
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.001] = np.inf
    plan = rng.choice(
        np.array(["basic", "pro", "team", "rare1", "rare2"]), n, p=[0.5, 0.3, 0.18, 0.01, 0.01]
    )
    return pa.table(
        {
            "x": pa.array(x, from_pandas=True).cast(pa.float64()),
            "age": pa.array(rng.integers(18, 90, n)),
            "plan": pa.array(plan).dictionary_encode(),
            "member": pa.array(rng.random(n) < 0.3),
            "opened": pa.array(
                rng.integers(1_600_000_000, 1_700_000_000, n) * 1_000_000, pa.timestamp("us", "UTC")
            ),
            "score": rng.random(n),
            "flags": pa.array(
                [["age:out_of_range"] if i % 97 == 0 else [] for i in range(n)],
                pa.list_(pa.string()),
            ),
        }
    )


@pytest.fixture(scope="module")
def reference() -> object:
    rng = np.random.default_rng(1)
    table = _table(rng, 20_000)
    return fit_reference(
        table.drop_columns(["flags", "score"]), scores=rng.random(5_000), bins=10, top_k=3
    )


def test_numeric_counts_match_numpy(reference) -> None:
    rng = np.random.default_rng(2)
    table = _table(rng, 30_000)
    window = profile_window(table, reference)
    x = table.column("x").to_numpy()
    finite = x[np.isfinite(x)]
    bins = reference.column("x").bins
    expected = np.bincount(np.searchsorted(bins.edges, finite, side="right"), minlength=bins.size)
    profile = window.columns["x"]
    assert isinstance(profile, NumericProfile)
    assert profile.counts.tolist() == expected.tolist()
    assert profile.nulls == int(np.isnan(x).sum()) and profile.infinite == int(np.isinf(x).sum())
    assert profile.mean(bins) == pytest.approx(finite.mean(), rel=1e-12)
    assert profile.variance() == pytest.approx(finite.var(ddof=1), rel=1e-9)
    assert (profile.min, profile.max) == (finite.min(), finite.max())
    assert profile.below == int((finite < bins.low).sum()) and profile.above == int(
        (finite > bins.high).sum()
    )
    assert profile.values is None  # more than keep_values rows


def test_categories_booleans_and_timestamps(reference) -> None:
    table = pa.table(
        {
            "x": [1.0, 2.0],
            "age": [20, 30],
            "plan": ["pro", "enterprise"],  # plain strings against a dictionary reference
            "member": [True, None],
            "opened": pa.array([0, 1_000_000], pa.timestamp("us")),
        }
    )
    window = profile_window(table, reference)
    plan, member = window.columns["plan"], window.columns["member"]
    assert isinstance(plan, CategoryProfile) and isinstance(member, CategoryProfile)
    assert reference.column("plan").bins.categories == ("basic", "pro", "team")
    assert plan.counts.tolist() == [0, 1, 0, 1] and plan.unseen == 1
    assert member.counts[list(reference.column("member").bins.categories).index("true")] == 1
    assert member.nulls == 1
    opened = window.columns["opened"]
    assert isinstance(opened, NumericProfile)
    assert (opened.min, opened.max) == (0.0, 1.0)  # seconds since 1970
    assert opened.below == 2  # long before the reference's range


def test_hourly_profiles_merge_into_the_whole(reference) -> None:
    rng = np.random.default_rng(3)
    whole = _table(rng, 12_345)
    cuts = [0, 400, 1_000, 5_000, 5_001, 12_345]  # uneven hours, one with a single row
    hours = [profile_window(whole.slice(a, b - a), reference) for a, b in itertools.pairwise(cuts)]
    merged = merge_profiles(hours)
    direct = profile_window(whole, reference)
    _assert_same(merged, direct)
    assert merged.flags == {"age:out_of_range": len(range(0, 12_345, 97))}


def test_small_windows_keep_their_values_through_merges(reference) -> None:
    rng = np.random.default_rng(4)
    whole = _table(rng, 900)
    parts = [profile_window(whole.slice(i, 300), reference) for i in (0, 300, 600)]
    merged = merge_profiles(parts)
    direct = profile_window(whole, reference)
    _assert_same(merged, direct)
    x = whole.column("x").to_numpy()
    assert merged.columns["x"].values.tolist() == np.sort(x[np.isfinite(x)]).tolist()
    big = merged.merge(profile_window(_table(rng, 900), reference))
    assert big.columns["x"].values is None  # past keep_values the values are dropped


def test_profiles_round_trip_through_json(reference) -> None:
    window = profile_window(_table(np.random.default_rng(5), 500), reference)
    text = json.dumps(window.to_dict(), allow_nan=False)
    _assert_same(WindowProfile.from_dict(json.loads(text)), window, exact=True)


def test_absent_and_invalid_columns_are_counted(reference) -> None:
    table = pa.table({"x": ["a", "b", "c"], "plan": [1, 2, 3], "age": [1, 2, 3]})
    window = profile_window(table, reference)
    assert window.columns["x"].invalid == 3 and window.columns["x"].present == 0
    assert window.columns["member"].absent == 3
    assert window.columns["plan"].unseen == 3  # numbers read as the strings "1", "2", "3"
    assert window.prediction is not None and window.prediction.absent == 3


def test_prediction_log_input_named_like_a_fixed_column(reference) -> None:
    ref = fit_reference(pa.table({"score": [1.0, 2.0, 3.0, 4.0]}), scores=[0.1, 0.2, 0.9, 0.4])
    field = pa.field("input.score", pa.float64(), metadata={INPUT_KEY: b"score"})
    log = pa.Table.from_arrays(
        [pa.array([0.5, 0.6]), pa.array([2.0, 3.0])],
        schema=pa.schema([pa.field("score", pa.float64()), field]),
    )
    window = profile_window(log, ref)
    assert (window.columns["score"].min, window.columns["score"].max) == (2.0, 3.0)
    assert (window.prediction.min, window.prediction.max) == (0.5, 0.6)


def test_a_parquet_dataset_profiles_like_the_table(reference, tmp_path: Path) -> None:
    table = _table(np.random.default_rng(6), 3_000)
    pq.write_table(table.slice(0, 1_000), tmp_path / "a.parquet")
    pq.write_table(table.slice(1_000), tmp_path / "b.parquet")
    from_dataset = profile_window(pads.dataset(tmp_path), reference)
    _assert_same(from_dataset, profile_window(table, reference))
    refit = fit_reference(pads.dataset(tmp_path), ["x", "plan"])
    assert refit.profile.rows == 3_000 and refit.id == fit_reference(table, ["x", "plan"]).id


def test_profiles_of_other_references_do_not_merge(reference) -> None:
    other = fit_reference(pa.table({"x": [1.0, 2.0]}))
    mine = profile_window(pa.table({"x": [1.0]}), reference)
    with pytest.raises(DataError, match="different references"):
        mine.merge(profile_window(pa.table({"x": [1.0]}), other))
    with pytest.raises(DataError, match="no window profiles"):
        merge_profiles([])


def _assert_same(a: WindowProfile, b: WindowProfile, *, exact: bool = False) -> None:
    assert (a.reference, a.rows, a.flags, a.keep_values) == (
        b.reference,
        b.rows,
        b.flags,
        b.keep_values,
    )
    pairs = [(a.columns[name], b.columns[name]) for name in a.columns] + [
        (a.prediction, b.prediction)
    ]
    for x, y in pairs:
        left, right = x.to_dict(), y.to_dict()
        if not exact and "sums" in left:  # float sums differ by rounding only
            assert np.allclose(x.sums, y.sums, rtol=1e-9, atol=1e-6)
            assert x.sumsq == pytest.approx(y.sumsq, rel=1e-9)
            for key in ("sums", "sumsq"):
                left.pop(key), right.pop(key)
        assert left == right
