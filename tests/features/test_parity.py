"""Train/serve parity: a saved pipeline, any input form, and a model's predictions agree."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.features import FeaturePipeline


@pytest.fixture(params=["tree", "linear"])
def pipeline(
    request: pytest.FixtureRequest,
    train: pa.Table,
    schema: dict[str, Any],
    options: dict[str, Any],
) -> FeaturePipeline:
    """A pipeline fitted on the mixed table, for each strategy."""
    return FeaturePipeline.fit(train, schema, strategy=request.param, **options)


def reloaded(pipeline: FeaturePipeline) -> FeaturePipeline:
    text = json.dumps(pipeline.to_dict(), allow_nan=False)  # raises on NaN or infinity
    return FeaturePipeline.from_dict(json.loads(text))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def json_records(table: pa.Table) -> list[dict[str, Any]]:
    """The rows as a JSON request would carry them: timestamps as ISO 8601 strings."""

    def encode(value: Any) -> str:
        assert isinstance(value, datetime)
        return value.isoformat()

    return list(json.loads(json.dumps(table.to_pylist(), default=encode)))


def test_saved_pipeline_transforms_bit_for_bit(
    pipeline: FeaturePipeline, train: pa.Table, fresh: pa.Table
) -> None:
    loaded = reloaded(pipeline)
    expected = pipeline.transform(fresh)
    assert np.isnan(expected).any() == (pipeline.strategy == "tree")
    for data in (fresh, train):
        assert same_bits(loaded.transform(data), pipeline.transform(data))  # NaNs included
    assert loaded.to_dict() == pipeline.to_dict()
    assert loaded.feature_names == pipeline.feature_names
    assert loaded.input_columns == pipeline.input_columns
    assert loaded.unknown_categories(fresh) == pipeline.unknown_categories(fresh)


def test_every_input_form_gives_the_same_matrix(pipeline: FeaturePipeline, fresh: pa.Table) -> None:
    pipeline = reloaded(pipeline)
    expected = pipeline.transform(fresh)
    assert expected.dtype == np.float64 and expected.flags.c_contiguous
    assert expected.shape == (fresh.num_rows, len(pipeline.feature_names))

    arrays = {name: fresh.column(name).combine_chunks() for name in fresh.column_names}
    lists = {name: fresh.column(name).to_pylist() for name in fresh.column_names}
    numpy = {
        "age": fresh.column("age").to_numpy(),  # float64 with NaN for the nulls
        "income": fresh.column("income").to_numpy(),
        "paid": np.array(lists["paid"], dtype=object),
        "signup": np.array(lists["signup"], dtype="datetime64[us]"),  # None becomes NaT
        "seen_at": fresh.column("seen_at"),  # numpy cannot carry its timezone
        "plan": np.array(lists["plan"], dtype=object),
        "city": np.array(lists["city"]),  # a fixed-width unicode array
    }
    other_arrow_types = arrays | {
        "age": arrays["age"].cast(pa.int32()),
        "signup": arrays["signup"].cast(pa.timestamp("ms")),
        "seen_at": arrays["seen_at"].cast(pa.timestamp("ns", tz="America/Lima")),  # same instants
        "plan": arrays["plan"].dictionary_encode(),
        "city": arrays["city"].cast(pa.string_view()),
    }
    forms = {
        "record batch": fresh.combine_chunks().to_batches()[0],
        "several chunks": pa.concat_tables([fresh.slice(0, 7), fresh.slice(7, 0), fresh.slice(7)]),
        "other arrow types": other_arrow_types,
        "arrow arrays": arrays,
        "chunked arrays": {n: fresh.column(n) for n in fresh.column_names},
        "lists": lists,
        "numpy": numpy,
    }
    for form, data in forms.items():
        assert same_bits(pipeline.transform(data), expected), form
    assert same_bits(pipeline.transform_records(fresh.to_pylist()), expected)
    assert same_bits(pipeline.transform_records(json_records(fresh)), expected)


def test_record_batch_and_single_records_match_the_batch(
    pipeline: FeaturePipeline, fresh: pa.Table
) -> None:
    pipeline = reloaded(pipeline)
    batch = pipeline.transform(fresh)
    records = json_records(fresh)
    one_by_one = np.vstack([pipeline.transform_records([record]) for record in records[:20]])
    assert same_bits(one_by_one, batch[:20])


def test_lightgbm_predictions_survive_saving_the_pipeline(
    pipeline: FeaturePipeline, train: pa.Table, fresh: pa.Table
) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    target = np.asarray(train.column("churned").to_pylist(), dtype=np.float64)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "deterministic": True}
    params |= {"min_data_in_leaf": 5}
    booster = lightgbm.train(
        params, lightgbm.Dataset(pipeline.transform(train), target), num_boost_round=30
    )
    # The serving side: the model and the pipeline each come back from their saved text.
    served_model = lightgbm.Booster(model_str=booster.model_to_string())
    served_pipeline = reloaded(pipeline)

    trained = booster.predict(pipeline.transform(fresh))
    served = served_model.predict(served_pipeline.transform_records(json_records(fresh)))
    assert np.array_equal(trained, served)
    assert np.array_equal(trained, served_model.predict(served_pipeline.transform(fresh)))
    # The model learnt something real: age decides the label in nine rows out of ten.
    labels = np.asarray(fresh.column("churned").to_pylist())
    assert ((trained > 0.5) == labels).mean() > 0.75
