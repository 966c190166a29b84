"""Each encoding against values computed by hand on small data."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.features import FeaturePipeline

NAN = float("nan")


def schema_of(**kinds: str) -> dict[str, Any]:
    return {"columns": [{"name": name, "kind": kind} for name, kind in kinds.items()]}


def fit(data: dict[str, Any], strategy: str, **kinds: str) -> FeaturePipeline:
    return FeaturePipeline.fit(data, schema_of(**kinds), target=None, strategy=strategy)


def test_linear_number_takes_the_median_flags_it_and_standardises() -> None:
    pipeline = fit({"x": [1, 2, None, 10]}, "linear", x="integer")
    imputed = [1.0, 2.0, 2.0, 10.0]  # the median of 1, 2 and 10 fills the gap
    mean = 15 / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in imputed) / 4)
    assert pipeline.feature_names == ["x", "x__missing"]
    assert pipeline.to_dict()["encoders"][0]["scale"] == {"fill": 2.0, "mean": mean, "std": std}
    out = pipeline.transform({"x": [1, None, 10.5]})
    np.testing.assert_allclose(out[:, 0], [(1 - mean) / std, (2 - mean) / std, (10.5 - mean) / std])
    assert out[:, 1].tolist() == [0.0, 1.0, 0.0]


def test_linear_number_without_fit_nulls_has_no_indicator_but_still_imputes() -> None:
    pipeline = fit({"x": [2.0, 4.0, 6.0]}, "linear", x="float")
    assert pipeline.feature_names == ["x"]
    std = math.sqrt(8 / 3)
    np.testing.assert_allclose(pipeline.transform({"x": [None, 6.0]})[:, 0], [0.0, 2 / std])


def test_linear_constant_number_maps_to_zero_and_infinity_counts_as_missing() -> None:
    constant = fit({"x": [5, 5, 5]}, "linear", x="integer")
    assert constant.to_dict()["encoders"][0]["scale"]["std"] == 1.0
    assert constant.transform({"x": [5, 7]})[:, 0].tolist() == [0.0, 2.0]
    pipeline = fit({"x": [1.0, math.inf, 3.0]}, "linear", x="float")
    assert pipeline.feature_names == ["x", "x__missing"]
    assert pipeline.transform({"x": [-math.inf]})[0].tolist() == [0.0, 1.0]


def test_tree_number_is_the_raw_value_with_nan_for_missing() -> None:
    pipeline = fit({"x": [3, None, 7]}, "tree", x="integer")
    assert pipeline.feature_names == ["x"]
    got = pipeline.transform({"x": pa.array([2**40, None, -1])})[:, 0]
    assert got[0] == 2.0**40 and math.isnan(got[1]) and got[2] == -1.0


def test_booleans_as_zero_one_with_mode_imputation_for_linear() -> None:
    data = {"b": [True, True, False, None]}
    tree = fit(data, "tree", b="boolean")
    assert tree.feature_names == ["b"]
    assert np.array_equal(
        tree.transform({"b": [False, None, True]})[:, 0], [0.0, NAN, 1.0], equal_nan=True
    )
    linear = fit(data, "linear", b="boolean")
    assert linear.feature_names == ["b", "b__missing"]
    assert linear.transform({"b": [False, None]}).tolist() == [[0.0, 0.0], [1.0, 1.0]]
    tie = fit({"b": [True, False]}, "linear", b="boolean")
    assert tie.feature_names == ["b"]  # no nulls at fit time, no indicator
    assert tie.transform({"b": [None]}).tolist() == [[0.0]]  # a tie imputes false


def test_ordinal_codes_follow_frequency_then_name_with_one_other_code() -> None:
    values = ["b", "a", "c", "a", "b", "a", "d", None]
    pipeline = FeaturePipeline.fit(
        {"c": values}, schema_of(c="category"), target=None, strategy="tree", max_categories=2
    )
    encoder = pipeline.to_dict()["encoders"][0]
    assert (encoder["categories"], encoder["other"]) == (["a", "b"], ["c", "d"])
    out = pipeline.transform({"c": ["a", "b", "c", "d", "zzz", None]})[:, 0]
    assert np.array_equal(out, [0, 1, 2, 2, NAN, NAN], equal_nan=True)
    assert pipeline.unknown_categories({"c": ["zzz", "d", None, "zzz"]}) == {"c": 2}


def test_category_ties_break_by_code_point_order_for_unicode_names() -> None:
    values = ["プロ", "é", "Zeta", "a", "é"]
    pipeline = fit({"c": values}, "tree", c="category")
    assert pipeline.to_dict()["encoders"][0]["categories"] == ["é", "Zeta", "a", "プロ"]
    assert pipeline.transform({"c": ["プロ", "a"]})[:, 0].tolist() == [3.0, 2.0]


def test_one_hot_layout_keeps_the_top_categories_and_zeros_the_rest() -> None:
    values = ["b", "a", "c", "a", "b", "a", "d"]
    pipeline = FeaturePipeline.fit(
        {"c": values, "x": [1.0] * 7},
        schema_of(c="category", x="float"),
        target="x",
        strategy="linear",
        max_categories=2,
    )
    assert pipeline.feature_names == ["c=a", "c=b"]
    out = pipeline.transform({"c": ["b", "a", "c", "new", None]})
    assert out.tolist() == [[0, 1], [1, 0], [0, 0], [0, 0], [0, 0]]


def test_text_becomes_a_category_only_when_it_has_few_values() -> None:
    data = {"t": ["x", "y", "x", "z"]}
    kept = FeaturePipeline.fit(
        data, schema_of(t="text"), target=None, strategy="linear", max_categories=3
    )
    assert kept.feature_names == ["t=x", "t=y", "t=z"]
    dropped = FeaturePipeline.fit(
        data, schema_of(t="text"), target=None, strategy="linear", max_categories=2
    )
    assert dropped.feature_names == []
    assert dropped.dropped == {"t": "text with 3 distinct values (more than max_categories=2)"}
    assert dropped.transform(data).shape == (4, 0)


def test_timestamp_parts_by_hand() -> None:
    stamps = [
        datetime(2024, 3, 1, 9, 30),  # a Friday
        datetime(1969, 12, 31, 23, 59),  # a Wednesday, before the epoch
        datetime(2000, 2, 29, 0, 0),  # a Tuesday, leap day
        None,
    ]
    pipeline = fit({"t": stamps}, "tree", t="timestamp")
    assert pipeline.feature_names == [
        f"t__{p}" for p in ("year", "month", "day", "dayofweek", "hour")
    ]
    out = pipeline.transform({"t": stamps})
    assert out[:3].tolist() == [
        [2024, 3, 1, 4, 9],
        [1969, 12, 31, 2, 23],
        [2000, 2, 29, 1, 0],
    ]
    assert np.isnan(out[3]).all()


def test_timestamps_use_the_wall_clock_of_the_columns_timezone() -> None:
    oslo = {
        "columns": [{"name": "t", "kind": "timestamp", "type": "timestamp[us, tz=Europe/Oslo]"}]
    }
    instant = datetime(2024, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 July in Oslo (summer)
    arrow = pa.array([instant], pa.timestamp("us", tz="Europe/Oslo"))
    pipeline = FeaturePipeline.fit({"t": arrow}, oslo, target=None, strategy="tree")
    expected = [[2024, 7, 2, 1, 0]]
    assert pipeline.transform({"t": arrow}).tolist() == expected
    assert pipeline.transform({"t": [instant]}).tolist() == expected
    assert pipeline.transform({"t": ["2024-07-01T22:30:00Z"]}).tolist() == expected
    assert pipeline.transform({"t": ["2024-07-02T00:30:00"]}).tolist() == expected  # taken as is
    # Without a timezone in the schema, values that carry one are read in UTC.
    naive = fit({"t": [datetime(2024, 1, 1)]}, "tree", t="timestamp")
    plus_two = datetime(2024, 7, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert naive.transform({"t": [plus_two]}).tolist() == [[2024, 7, 1, 0, 22]]
    assert naive.transform({"t": pa.array([plus_two])}).tolist() == [[2024, 7, 1, 0, 22]]


def test_linear_timestamp_parts_are_imputed_and_standardised_like_numbers() -> None:
    stamps = [datetime(2020, 1, 6, 1), datetime(2022, 1, 8, 3), None, datetime(2030, 1, 7, 5)]
    pipeline = fit({"t": stamps}, "linear", t="timestamp")
    assert pipeline.feature_names[-1] == "t__missing"
    year = pipeline.to_dict()["encoders"][0]["scales"][0]
    filled = [2020, 2022, 2022, 2030]  # the median year fills the gap
    mean = sum(filled) / 4
    assert year == {"fill": 2022.0, "mean": mean, "std": float(np.std(filled))}
    out = pipeline.transform({"t": [None, datetime(2030, 5, 5)]})
    assert out[0, 0] == pytest.approx((2022 - mean) / year["std"])
    assert out[1, 0] == pytest.approx((2030 - mean) / year["std"])
    assert out[:, 1].tolist() == [0.0, 4.0]  # every fit month was January: std 1
    assert out[:, 5].tolist() == [1.0, 0.0]


def test_columns_keep_schema_order_and_dropped_columns_say_why() -> None:
    columns = schema_of(id="text", z="float", y="boolean", e="empty", a="category", blank="float")
    data = {
        "id": ["r1", "r2", "r3"],
        "z": [1.0, 2.0, 3.0],
        "y": [True, False, True],
        "e": [None, None, None],
        "a": ["p", "q", "p"],
        "blank": [None, None, None],
    }
    pipeline = FeaturePipeline.fit(data, columns, target="y", strategy="tree", exclude=["id"])
    assert pipeline.input_columns == ["z", "a"]
    assert pipeline.feature_names == ["z", "a"]
    assert pipeline.dropped == {
        "id": "excluded",
        "y": "target",
        "e": "empty: every value is missing",
        "blank": "no values in the fit data",
    }
    assert pipeline.to_dict()["dropped"] == pipeline.dropped
    assert pipeline.transform({"z": [], "a": []}).shape == (0, 2)
    assert "2 columns → 2 features, 4 dropped" in repr(pipeline)
