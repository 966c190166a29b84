"""Data quality: nulls, ranges, unseen categories, schema breaks and validator flags."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from forgeml.monitor import data_quality, fit_reference, profile_window


def _reference() -> object:
    rng = np.random.default_rng(0)
    n = 10_000
    age = rng.integers(18, 90, n).astype(float)
    age[: n // 50] = np.nan  # 2% missing in training
    plan = rng.choice(np.array(["basic", "pro", "team"]), n)
    return fit_reference(pa.table({"age": age, "plan": plan}), scores=rng.random(2_000))


def test_a_window_like_the_reference_has_no_issues() -> None:
    reference = _reference()
    rng = np.random.default_rng(1)
    n = 5_000
    age = rng.integers(18, 90, n).astype(float)
    age[: n // 50] = np.nan
    table = pa.table(
        {
            "age": age,
            "plan": rng.choice(np.array(["basic", "pro", "team"]), n),
            "score": rng.random(n),
        }
    )
    report = data_quality(reference, profile_window(table, reference))
    assert report.ok, report.issues
    age_quality = report.columns[0]
    assert age_quality.null_rate == 0.02 and age_quality.reference_null_rate == 0.02
    assert report.prediction is not None and not report.prediction.drifted


def test_broken_windows_name_each_issue() -> None:
    reference = _reference()
    rng = np.random.default_rng(2)
    n = 2_000
    age = rng.integers(18, 90, n).astype(float)
    age[: n // 5] = np.nan  # 20% missing
    age[n // 5 : n // 5 + 100] = 150.0  # 5% beyond the training range
    age[-3:] = np.inf
    plan = np.where(rng.random(n) < 0.1, "enterprise", rng.choice(np.array(["basic", "pro"]), n))
    flags = [["age:out_of_range"] if value == 150.0 else [] for value in age]
    table = pa.table(
        {
            "age": age,
            "plan": plan,
            "score": rng.random(n) * 0.5,
            "flags": pa.array(flags, pa.list_(pa.string())),
        }
    )
    report = data_quality(reference, profile_window(table, reference))
    assert set(report.issues) == {
        "age:nulls",
        "age:out_of_range",
        "age:infinite",
        "plan:unseen",
        "score:drift",
    }
    age_quality, plan_quality = report.columns
    assert age_quality.null_rate == 0.2 and age_quality.out_of_range == 100
    assert age_quality.flagged_out_of_range == 100 and age_quality.infinite == 3
    assert (
        plan_quality.unseen == int((plan == "enterprise").sum()) and plan_quality.unseen_rate > 0.05
    )
    assert report.flags == {"age:out_of_range": 100}
    json.dumps(report.to_dict(), allow_nan=False)


def test_missing_and_mistyped_columns_are_schema_issues() -> None:
    reference = _reference()
    table = pa.table({"age": ["thirty", "forty"]})
    report = data_quality(reference, profile_window(table, reference))
    assert set(report.issues) == {"age:invalid", "plan:absent"}
    assert report.columns[0].invalid == 2 and report.columns[1].absent == 2
    assert report.prediction is not None and not report.prediction.tested


def test_a_small_excess_is_not_an_issue() -> None:
    reference = _reference()
    rng = np.random.default_rng(3)
    n = 1_000
    age = rng.integers(18, 90, n).astype(float)
    age[: int(n * 0.025)] = np.nan  # 2.5% missing against 2%: within min_increase
    report = data_quality(
        reference, profile_window(pa.table({"age": age, "plan": ["pro"] * n}), reference)
    )
    assert "age:nulls" not in report.issues
