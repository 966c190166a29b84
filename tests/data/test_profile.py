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


@pytest.mark.parametrize("kind", ["int", "float"])
def test_chunked_tied_columns_give_numpys_exact_quantiles_bins_and_zeros(kind: str) -> None:
    rng = np.random.default_rng(1)
    values = rng.integers(-3, 4, 30_000)  # seven values: every bin edge is a tie
    data = values if kind == "int" else values * 0.5
    nulls = rng.random(len(data)) < 0.1
    chunks = [
        pa.array(part, mask=mask)
        for part, mask in zip(np.array_split(data, 7), np.array_split(nulls, 7), strict=True)
    ]
    stats = profile_table(normalize(pa.table({"x": pa.chunked_array(chunks)})))["columns"]["x"]
    present = data[~nulls].astype(np.float64)
    assert stats["nulls"] == int(nulls.sum())
    for q, got in stats["quantiles"].items():
        assert got == np.quantile(present, float(q))
    edges = np.unique(np.quantile(present, [i / 10 for i in range(11)]))
    assert stats["histogram"]["edges"] == edges.tolist()
    assert stats["histogram"]["counts"] == np.histogram(present, edges)[0].tolist()
    assert stats["zeros"] == int(np.count_nonzero(present == 0))
    assert stats["mean"] == pytest.approx(present.mean(), rel=1e-12)


def test_text_mean_length_counts_characters_of_every_present_value() -> None:
    values = ["é", "abc", None, "abc", "日本語", ""]
    column = profile_table(normalize(pa.table({"t": values})))["columns"]["t"]
    present = [v for v in values if v is not None]
    assert column["mean_length"] == pytest.approx(sum(map(len, present)) / len(present))


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
