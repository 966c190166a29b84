"""Bad input, bad options and bad saved pipelines fail with errors that name the problem."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.errors import ConfigError, DataError
from forgeml.features import FeaturePipeline

SCHEMA = {
    "columns": [
        {"name": "age", "kind": "integer"},
        {"name": "paid", "kind": "boolean"},
        {"name": "plan", "kind": "category"},
        {"name": "at", "kind": "timestamp"},
    ]
}
DATA = {
    "age": [30, 40, None],
    "paid": [True, False, None],
    "plan": ["a", "b", None],
    "at": ["2024-01-01T10:00:00", None, "2024-02-01"],
}


@pytest.fixture(scope="module")
def pipeline() -> FeaturePipeline:
    return FeaturePipeline.fit(DATA, SCHEMA, target=None, strategy="linear")


@pytest.fixture
def saved(pipeline: FeaturePipeline) -> dict[str, Any]:
    return copy.deepcopy(pipeline.to_dict())


def with_column(name: str, values: Any) -> dict[str, Any]:
    return {**DATA, name: values}


def test_a_missing_input_column_is_named(pipeline: FeaturePipeline) -> None:
    without = {k: v for k, v in DATA.items() if k != "plan"}
    with pytest.raises(DataError, match="1 input column is missing: 'plan'") as error:
        pipeline.transform(without)
    assert "age, paid, plan, at" in str(error.value.fix)
    with pytest.raises(DataError, match="'plan'"):
        pipeline.transform(pa.table(without))
    with pytest.raises(DataError, match="record 1 has no field 'plan'"):
        pipeline.transform_records([DATA | {"age": 1}, without])


def test_extra_columns_are_ignored(pipeline: FeaturePipeline) -> None:
    more = pipeline.transform(with_column("unused", ["x", object(), 3]))
    assert np.array_equal(more, pipeline.transform(DATA))


@pytest.mark.parametrize(
    ("column", "values", "expected", "found"),
    [
        ("age", [1, "2", 3], "numbers", "str values such as '2'"),
        ("age", pa.array(["1", "2", "3"]), "numbers", "string values"),
        ("age", np.array(["1", "2", "3"]), "numbers", "numpy <U1 values"),
        ("age", [True, False, None], "numbers", "bool values such as True"),
        ("paid", [1, 0, 1], "booleans", "int values such as 1"),
        ("paid", pa.array([1.0, 0.0, None]), "booleans", "double values"),
        ("plan", ["a", 2, None], "strings", "int values such as 2"),
        ("plan", pa.array([1, 2, 3]), "strings", "int64 values"),
        ("at", [1.5, None, None], "timestamps", "float values such as 1.5"),
        ("at", pa.array([1, 2, 3]), "timestamps", "int64 values"),
    ],
)
def test_wrong_value_types_name_the_column_and_the_expected_type(
    pipeline: FeaturePipeline, column: str, values: Any, expected: str, found: str
) -> None:
    with pytest.raises(DataError, match=f"column '{column}' must hold {expected}") as error:
        pipeline.transform(with_column(column, values))
    assert found in error.value.message
    assert column in str(error.value.fix)


def test_unparseable_timestamps_and_bad_shapes(pipeline: FeaturePipeline) -> None:
    with pytest.raises(DataError, match="'at' holds 'yesterday', which is not an ISO 8601"):
        pipeline.transform(with_column("at", ["yesterday", None, None]))
    with pytest.raises(DataError, match="different lengths: 'age' has 2"):
        pipeline.transform(with_column("age", [1, 2]))
    with pytest.raises(DataError, match="'age' is a 2-dimensional array"):
        pipeline.transform(with_column("age", np.ones((3, 2))))
    with pytest.raises(DataError, match="'age' is a int, not an array"):
        pipeline.transform(with_column("age", 5))
    with pytest.raises(DataError, match="must be a pyarrow Table or RecordBatch"):
        pipeline.transform([DATA])


def test_records_must_be_a_list_of_objects(pipeline: FeaturePipeline) -> None:
    with pytest.raises(DataError, match="records must be a list of objects"):
        pipeline.transform_records(DATA)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="record 0 is a list, not an object"):
        pipeline.transform_records([[1, 2]])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "key",
    [
        "format",
        "version",
        "strategy",
        "max_categories",
        "target",
        "input_columns",
        "feature_names",
        "encoders",
        "dropped",
    ],
)
def test_a_saved_pipeline_missing_a_field_is_refused(saved: dict[str, Any], key: str) -> None:
    del saved[key]
    with pytest.raises(ConfigError, match=f"field '{key}' is missing"):
        FeaturePipeline.from_dict(saved)


def test_a_saved_pipeline_of_another_version_or_format_is_refused(saved: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="format version 2 is not supported") as error:
        FeaturePipeline.from_dict(saved | {"version": 2})
    assert "fit the pipeline again" in str(error.value)
    with pytest.raises(ConfigError, match="field 'version' must be an integer, not '1'"):
        FeaturePipeline.from_dict(saved | {"version": "1"})
    with pytest.raises(ConfigError, match="not a feature pipeline"):
        FeaturePipeline.from_dict(saved | {"format": "sklearn"})
    with pytest.raises(ConfigError, match="must be an object, not list"):
        FeaturePipeline.from_dict([saved])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("strategy",), "forest", "'strategy' must be 'tree' or 'linear'"),
        (("max_categories",), 0, "'max_categories' must be at least 1"),
        (("dropped",), ["x"], "'dropped' must map column names to reasons"),
        (("feature_names",), ["age"], "'feature_names' does not match its encoders"),
        (("input_columns",), ["age", "plan"], "'input_columns' does not match"),
        (("encoders", 0, "type"), "magic", "'encoders[0].type' must be one of number"),
        (("encoders", 0, "column"), None, "'encoders[0].column' must be a string, not null"),
        (("encoders", 0, "scale", "std"), 0.0, "'encoders[0].scale.std' must be positive"),
        (("encoders", 0, "scale", "mean"), "1", "'encoders[0].scale.mean' must be a finite"),
        (("encoders", 0, "indicator"), 1, "'encoders[0].indicator' must be true or false"),
        (("encoders", 1, "fill"), 0.5, "'encoders[1].fill' must be 0, 1 or null"),
        (("encoders", 2, "encoding"), "hash", "'encoders[2].encoding' must be one of ordinal"),
        (("encoders", 2, "other"), ["a"], "must not repeat a category"),
        (("encoders", 2, "categories"), [1, 2], "'encoders[2].categories' must be a list of str"),
        (("encoders", 3, "scales"), [], "'encoders[3].scales' must hold 5 objects"),
        (("encoders", 3, "timezone"), "Mars/Olympus", "timezone 'Mars/Olympus' is unknown"),
    ],
)
def test_a_saved_pipeline_with_a_bad_field_names_it(
    saved: dict[str, Any], path: tuple[Any, ...], value: Any, message: str
) -> None:
    target: Any = saved
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        FeaturePipeline.from_dict(json.loads(json.dumps(saved)))


def test_fit_options_are_checked() -> None:
    def fit(**options: Any) -> FeaturePipeline:
        arguments: dict[str, Any] = {"target": None, "strategy": "tree"} | options
        return FeaturePipeline.fit(DATA, SCHEMA, **arguments)

    with pytest.raises(ConfigError, match="strategy must be 'tree' or 'linear', not 'forest'"):
        fit(strategy="forest")
    with pytest.raises(ConfigError, match="max_categories must be a positive integer"):
        fit(max_categories=0)
    with pytest.raises(ConfigError, match="exclude must be a list of column names"):
        fit(exclude="age")
    with pytest.raises(ConfigError, match="'churn' is not a column of the schema"):
        fit(target="churn")
    with pytest.raises(ConfigError, match="'agee', 'x' are not a column"):
        fit(exclude=["agee", "x"])


def test_fit_checks_the_schema_and_the_data() -> None:
    with pytest.raises(ConfigError, match="no list of 'columns'"):
        FeaturePipeline.fit(DATA, {"cols": []}, target=None, strategy="tree")
    bad_kind = {"columns": [{"name": "age", "kind": "decimal"}]}
    with pytest.raises(ConfigError, match="schema column 0 needs a 'name' and a 'kind'"):
        FeaturePipeline.fit(DATA, bad_kind, target=None, strategy="tree")
    zoned = {"columns": [{"name": "at", "kind": "timestamp", "type": "timestamp[us, tz=Nowhere]"}]}
    with pytest.raises(ConfigError, match="timezone 'Nowhere' is unknown"):
        FeaturePipeline.fit(DATA, zoned, target=None, strategy="tree")
    with pytest.raises(DataError, match="input column is missing: 'plan'"):
        FeaturePipeline.fit(
            {"age": [1], "paid": [True], "at": [None]}, SCHEMA, target=None, strategy="tree"
        )
    with pytest.raises(DataError, match="column 'age' must hold numbers"):
        FeaturePipeline.fit(
            with_column("age", ["1", "2", "3"]), SCHEMA, target=None, strategy="tree"
        )


def test_generated_feature_names_may_not_clash() -> None:
    clash = {"columns": [{"name": "x", "kind": "float"}, {"name": "x__missing", "kind": "float"}]}
    with pytest.raises(DataError, match="feature names would repeat: 'x__missing'"):
        FeaturePipeline.fit(
            {"x": [1.0, None], "x__missing": [0.0, 1.0]}, clash, target=None, strategy="linear"
        )
