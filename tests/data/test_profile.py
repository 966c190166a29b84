"""Profiles are exact where they claim to be and JSON-safe everywhere."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from forgeml.data.normalize import normalize
from forgeml.data.profile import profile_table


def test_numeric_profile_matches_numpy() -> None:
    values = np.random.default_rng(0).normal(5, 2, 50_000)
    stats = profile_table(normalize(pa.table({"x": values})))["columns"]["x"]
    assert stats["mean"] == pytest.approx(values.mean())
    assert stats["std"] == pytest.approx(values.std(ddof=1))
    assert stats["min"] == values.min() and stats["max"] == values.max()
    for q in ("0.05", "0.5", "0.95"):
        assert stats["quantiles"][q] == pytest.approx(np.quantile(values, float(q)), abs=0.02)
    assert sum(stats["histogram"]["counts"]) == len(values)
    assert len(stats["histogram"]["edges"]) == len(stats["histogram"]["counts"]) + 1


def test_nulls_infinities_and_constant_columns() -> None:
    table = normalize(
        pa.table(
            {
                "f": [1.0, float("nan"), None, float("inf"), 3.0],
                "c": [7, 7, 7, 7, 7],
                "e": pa.array([None] * 5, pa.null()),
            }
        )
    )
    columns = profile_table(table)["columns"]
    assert (columns["f"]["nulls"], columns["f"]["inf"], columns["f"]["max"]) == (2, 1, 3.0)
    assert columns["c"]["histogram"]["counts"] == [5]
    assert columns["e"]["kind"] == "empty"
    json.dumps(profile_table(table), allow_nan=False)  # raises on NaN/inf


def test_categories_top_values_and_text() -> None:
    words = [f"w{i}" for i in range(5000)]
    table = normalize(pa.table({"cat": ["a"] * 60 + ["b"] * 30 + ["c"] * 10, "text": words[:100]}))
    columns = profile_table(table)["columns"]
    assert columns["cat"]["kind"] == "category"
    assert columns["cat"]["top"] == [["a", 60], ["b", 30], ["c", 10]]
    assert columns["cat"]["other"] == 0
    assert columns["text"]["kind"] == "text" and columns["text"]["unique"] == 100


def test_boolean_and_timestamp() -> None:
    table = normalize(
        pa.table(
            {
                "b": [True, False, True, None],
                "t": pa.array([0, 86_400_000_000, None, 2 * 86_400_000_000], pa.timestamp("us")),
            }
        )
    )
    columns = profile_table(table)["columns"]
    assert (columns["b"]["true"], columns["b"]["false"], columns["b"]["nulls"]) == (2, 1, 1)
    assert columns["t"]["min"] == "1970-01-01T00:00:00"
    assert columns["t"]["max"] == "1970-01-03T00:00:00"
