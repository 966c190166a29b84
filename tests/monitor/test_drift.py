"""Drift reports: what each column reports, when it is tested, and how it serialises."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from forgeml.errors import DataError
from forgeml.monitor import DriftReport, compare, fit_reference, merge_profiles, profile_window


@pytest.fixture(scope="module")
def data() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(0)
    n = 20_000
    start = 1_700_000_000_000_000
    train = pa.table(
        {
            "income": rng.lognormal(10, 1, n),
            "plan": rng.choice(np.array(["a", "b", "c"]), n),
            "opened": pa.array(start + rng.integers(0, 10**13, n), pa.timestamp("us", "UTC")),
        }
    )
    later = pa.table(
        {
            "income": rng.lognormal(10, 1, 5_000) * 1.5,
            "plan": rng.choice(np.array(["a", "b", "c"]), 5_000, p=[0.6, 0.2, 0.2]),
            "opened": pa.array(
                start + 10**13 + rng.integers(0, 10**12, 5_000), pa.timestamp("us", "UTC")
            ),
        }
    )
    return train, later


def test_a_report_names_its_tests_effects_and_thresholds(data: tuple[pa.Table, pa.Table]) -> None:
    train, later = data
    reference = fit_reference(train, scores=np.linspace(0, 1, 1_000))
    window = profile_window(
        later.append_column("score", pa.array(np.linspace(0.5, 1, 5_000))), reference
    )
    report = compare(reference, window)
    income, plan, opened = (report.column(name) for name in ("income", "plan", "opened"))
    assert (income.test, income.drifted, income.kind) == ("ks_bins+welch", True, "float")
    assert income.effect == income.wasserstein and income.effect >= income.threshold
    assert income.mean_shift > 0.3 and income.psi > 0.1
    assert (plan.test, plan.drifted, plan.chi2_df) == ("chi2", True, 2)  # a, b, c ("other" empty)
    assert plan.effect == plan.jensen_shannon
    # Timestamps are out of range by construction: reported, not tested.
    assert not opened.tested and not opened.drifted and opened.wasserstein > 1
    assert report.drifted_columns == ("income", "plan") and report.share == 1.0
    assert report.prediction is not None and report.prediction.drifted
    with_time = compare(reference, window, timestamps=True)
    assert with_time.column("opened").drifted
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["columns"][0]["column"] == "income"


def test_merged_windows_compare_like_the_whole(data: tuple[pa.Table, pa.Table]) -> None:
    train, later = data
    reference = fit_reference(train)
    hours = [profile_window(later.slice(i, 1_000), reference) for i in range(0, 5_000, 1_000)]
    merged = compare(reference, merge_profiles(hours))
    whole = compare(reference, profile_window(later, reference))
    for got, want in zip(merged.columns, whole.columns, strict=True):
        numbers = {k: v for k, v in want.to_dict().items() if isinstance(v, float)}
        assert {k: got.to_dict()[k] for k in numbers} == pytest.approx(numbers, rel=1e-9)
        assert (got.tested, got.drifted, got.test) == (want.tested, want.drifted, want.test)


def test_small_windows_use_exact_ks_and_tiny_ones_are_not_tested(
    data: tuple[pa.Table, pa.Table],
) -> None:
    train, _later = data
    reference = fit_reference(train)
    small = compare(reference, profile_window(train.slice(0, 500), reference))
    assert small.column("income").test == "ks+welch" and not small.drifted
    one = compare(reference, profile_window(train.slice(0, 1), reference))
    assert not any(c.tested for c in one.columns) and not one.drifted and one.share == 0.0


def test_the_effect_floor_and_alpha_are_settings(data: tuple[pa.Table, pa.Table]) -> None:
    train, later = data
    reference = fit_reference(train)
    window = profile_window(later, reference)
    relaxed = compare(reference, window, min_wasserstein=10.0, min_jensen_shannon=1.0)
    assert not relaxed.drifted and relaxed.column("income").threshold == 10.0
    with pytest.raises(DataError, match="alpha"):
        compare(reference, window, alpha=1.5)


def test_windows_of_another_reference_are_refused(data: tuple[pa.Table, pa.Table]) -> None:
    train, later = data
    reference = fit_reference(train)
    other = fit_reference(later)
    with pytest.raises(DataError, match="profiled against reference"):
        compare(reference, profile_window(later, other))
    assert isinstance(compare(other, profile_window(later, other)), DriftReport)
