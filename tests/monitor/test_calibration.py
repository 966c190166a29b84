"""A/A windows rarely alarm at any size; real shifts are found.

Each repetition fits a fresh reference and draws a fresh window from the same
distributions (A/A), over columns chosen to be hard for the tests: skewed, heavy-tailed,
discrete, zero-inflated, categorical with a long tail, boolean. The requirement is a
false-alarm rate of at most 5% per column and per dataset; from a finite number of
repetitions a rate is judged above 5% when the count of alarms would have had less than
a 1% chance at 5% (one-sided binomial test).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as scipy_stats

from forgeml.monitor import compare, fit_reference, profile_window

SHIFTED = ("normal", "lognormal", "exponential", "student_t3")
CATEGORIES = np.array([f"v{i}" for i in range(30)])
ZIPF = (1 / np.arange(1, 31)) / (1 / np.arange(1, 31)).sum()


def draw(
    rng: np.random.Generator, n: int, shift: float = 0.0, categories: bool = False
) -> pa.Table:
    """Rows of the test distributions; ``shift`` moves the first four by that many SDs."""
    plan_p = [0.3, 0.3, 0.15, 0.15, 0.1] if categories else [0.4, 0.3, 0.15, 0.1, 0.05]
    return pa.table(
        {
            "normal": rng.normal(shift, 1, n),
            "lognormal": rng.lognormal(0, 1, n) + shift * 2.161,  # sd of lognormal(0, 1)
            "exponential": rng.exponential(1, n) + shift,
            "student_t3": rng.standard_t(3, n) + shift * 3**0.5,
            "poisson": rng.poisson(3, n),
            "zero_inflated": np.where(rng.random(n) < 0.7, 0.0, rng.exponential(5, n)),
            "plan": rng.choice(np.array(list("abcde")), n, p=plan_p),
            "zipf": rng.choice(CATEGORIES, n, p=ZIPF),
            "member": rng.random(n) < (0.4 if categories else 0.3),
        }
    )


def alarms(
    sizes: tuple[int, int], reps: int, seed: int, **shift: object
) -> tuple[int, dict[str, int]]:
    """Over ``reps`` repetitions: datasets that drifted, and drifts per column."""
    rng = np.random.default_rng(seed)
    n_ref, n_cur = sizes
    datasets, columns = 0, dict.fromkeys(draw(rng, 1).column_names, 0)
    for _ in range(reps):
        reference = fit_reference(draw(rng, n_ref), seed=int(rng.integers(1 << 30)))
        report = compare(reference, profile_window(draw(rng, n_cur, **shift), reference))  # type: ignore[arg-type]
        datasets += report.drifted
        for column in report.drifted_columns:
            columns[column] += 1
    return datasets, columns


def not_above_5_percent(count: int, reps: int) -> bool:
    """Whether ``count`` alarms in ``reps`` trials are consistent with a rate <= 5%."""
    return bool(scipy_stats.binom.sf(count - 1, reps, 0.05) >= 0.01)


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "reps"),
    [
        (20_000, 100, 120),
        (10_000, 1_000, 100),
        (1_000, 1_000, 300),  # small reference and window: exact KS on all values
        (50_000, 10_000, 50),
        (100_000, 100_000, 15),
        (200_000, 1_000_000, 4),
    ],
)
def test_aa_false_alarms_stay_at_or_below_5_percent(n_ref: int, n_cur: int, reps: int) -> None:
    datasets, columns = alarms((n_ref, n_cur), reps, seed=n_cur + n_ref)
    assert not_above_5_percent(datasets, reps), f"{datasets}/{reps} A/A datasets drifted"
    assert max(columns.values()) <= 0.05 * reps, columns


@pytest.mark.parametrize(("n_cur", "reps"), [(10_000, 10), (100_000, 4), (1_000_000, 2)])
def test_a_quarter_sd_shift_is_found(n_cur: int, reps: int) -> None:
    datasets, columns = alarms((100_000, n_cur), reps, seed=7, shift=0.25)
    assert datasets == reps
    assert all(columns[name] == reps for name in SHIFTED), columns
    assert sum(columns[name] for name in columns if name not in SHIFTED) <= 1, columns


def test_a_categorical_shift_is_found() -> None:
    datasets, columns = alarms((100_000, 10_000), 10, seed=8, categories=True)
    assert columns["plan"] == 10 and columns["member"] == 10, columns
    assert datasets == 10


def test_tiny_shifts_in_huge_windows_are_significant_but_not_drift() -> None:
    rng = np.random.default_rng(9)
    reference = fit_reference(draw(rng, 1_000_000).select(["normal"]))
    window = pa.table({"normal": rng.normal(0.02, 1, 1_000_000)})
    column = compare(reference, profile_window(window, reference)).column("normal")
    assert column.adjusted_pvalue < 1e-6  # a real, significant change ...
    assert column.effect < column.threshold and not column.drifted  # ... too small to matter
