"""Each declared rule finds exactly the offending rows, vectorised."""

from __future__ import annotations

import pyarrow as pa
import pytest

from forgeml.config import ValidationSpec
from forgeml.data.normalize import normalize
from forgeml.data.validation import rule_results, validate


def _check(
    table: pa.Table, rules: dict[str, object]
) -> dict[tuple[str, str], tuple[int, list[str]]]:
    found = validate(normalize(table), ValidationSpec.model_validate(rules))
    return {(v.column, v.rule): (v.count, v.examples) for v in found}


TABLE = pa.table(
    {
        "id": [1, 2, 2, 3, 3, 3],
        "age": [17, 30, None, 45, 130, 60],
        "plan": ["basic", "pro", "gold", None, "pro", "basic"],
        "score": [0.1, float("nan"), 0.5, 0.7, 0.9, 1.0],
    }
)


def test_a_clean_table_passes() -> None:
    assert (
        _check(TABLE, {"columns": {"age": {"type": "integer"}, "score": {"type": "float"}}}) == {}
    )


def test_row_bounds() -> None:
    assert _check(TABLE, {"rows": {"min": 10}})[("(table)", "rows >= 10")][0] == 6
    assert ("(table)", "rows <= 5") in _check(TABLE, {"rows": {"max": 5}})


def test_required_and_unknown_columns() -> None:
    found = _check(TABLE, {"required": ["id", "income"], "columns": {"zip": {"unique": True}}})
    assert set(found) == {("income", "required"), ("zip", "required")}


def test_type_mismatch_is_reported_once() -> None:
    found = _check(TABLE, {"columns": {"plan": {"type": "integer", "min": 0}}})
    assert found == {("plan", "type integer"): (6, ["found large_string"])}


def test_not_null_names_rows() -> None:
    assert _check(TABLE, {"columns": {"age": {"nullable": False}}})[("age", "not null")] == (
        1,
        ["row 3"],
    )


def test_nan_counts_as_null() -> None:
    found = _check(TABLE, {"columns": {"score": {"max_null_fraction": 0.1}}})
    assert found[("score", "max_null_fraction 0.1")] == (1, ["16.7% null"])


def test_ranges() -> None:
    found = _check(TABLE, {"columns": {"age": {"min": 18, "max": 120}}})
    assert found[("age", "min 18")] == (1, ["17"])
    assert found[("age", "max 120")] == (1, ["130"])


def test_range_on_text_is_a_clear_violation() -> None:
    found = _check(TABLE, {"columns": {"plan": {"min": 1}}})
    assert "min needs a numeric column" in found[("plan", "min 1")][1][0]


def test_allowed_values_ignore_nulls() -> None:
    found = _check(TABLE, {"columns": {"plan": {"allowed": ["basic", "pro"]}}})
    assert found == {("plan", "allowed"): (1, ["'gold'"])}


def test_uniqueness_counts_every_repeated_row() -> None:
    found = _check(TABLE, {"columns": {"id": {"unique": True}}})
    count, examples = found[("id", "unique")]
    assert count == 5 and sorted(examples) == ["2", "3"]


@pytest.mark.parametrize("rows", [1, 1_000_000])
def test_validation_scales_without_per_row_python(rows: int) -> None:
    table = pa.table({"x": pa.array(range(rows), pa.int64())})
    found = _check(table, {"columns": {"x": {"max": rows - 2, "unique": True}}})
    assert found == {("x", f"max {rows - 2:g}"): (1, [str(rows - 1)])}


def test_rule_results_say_passed_failed_or_not_checked() -> None:
    rules = ValidationSpec.model_validate(
        {
            "columns": {
                "age": {"min": 18, "max": 150},
                "plan": {"type": "integer", "min": 0},
                "zip": {"unique": True},
            }
        }
    )
    table = normalize(TABLE)
    results = {
        (r["column"], r["rule"]): r["result"] for r in rule_results(rules, validate(table, rules))
    }
    assert results == {
        ("(table)", "rows >= 1"): "passed",
        ("age", "required"): "passed",
        ("age", "min 18"): "failed: 1 row",
        ("age", "max 150"): "passed",
        ("plan", "required"): "passed",
        ("plan", "type integer"): "failed: 6 rows",
        ("plan", "min 0"): "not checked",
        ("zip", "required"): "failed: 1 row",
        ("zip", "unique"): "not checked",
    }
