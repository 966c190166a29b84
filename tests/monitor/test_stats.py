"""The binned statistics agree with their textbook definitions on the raw values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from forgeml.monitor import stats
from forgeml.monitor.numeric import NumericBins, NumericProfile


def _binned(values: np.ndarray, bins: NumericBins) -> tuple[np.ndarray, np.ndarray]:
    profile = NumericProfile.of(values, bins)
    return profile.counts, profile.sums


@pytest.mark.parametrize(("shift", "scale"), [(0.25, 1.0), (0.0, 1.5), (-1.0, 0.7)])
def test_binned_wasserstein_is_exact_when_cdfs_cross_at_most_once(
    shift: float, scale: float
) -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(0, 1, 200_000), rng.normal(shift, scale, 100_000)
    bins = NumericBins.fit(ref, bins=20)
    edges = bins.edges - bins.center
    got = stats.wasserstein_binned(edges, _binned(ref, bins), _binned(cur, bins))
    exact = scipy_stats.wasserstein_distance(ref, cur)
    # Equal when the CDFs cross only at an edge; a crossing inside one bin costs little.
    assert got == pytest.approx(exact, rel=0.02)
    assert got <= exact + 1e-9
    assert got >= abs(cur.mean() - ref.mean()) - 1e-9


def test_binned_wasserstein_is_a_lower_bound_when_cdfs_cross_inside_bins() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 100_000)
    cur = np.concatenate([rng.normal(-0.3, 0.1, 50_000), rng.normal(0.3, 0.1, 50_000)])
    bins = NumericBins.fit(ref, bins=4)  # coarse bins: the CDFs cross inside them
    edges = bins.edges - bins.center
    got = stats.wasserstein_binned(edges, _binned(ref, bins), _binned(cur, bins))
    exact = scipy_stats.wasserstein_distance(ref, cur)
    assert abs(cur.mean() - ref.mean()) <= got < exact


def test_binned_ks_is_conservative_and_close() -> None:
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(0, 1, 50_000), rng.normal(0.05, 1, 20_000)
    bins = NumericBins.fit(ref, bins=20)
    d, p = stats.ks_binned(_binned(ref, bins)[0], _binned(cur, bins)[0])
    exact = scipy_stats.ks_2samp(ref, cur)
    assert exact.statistic - 0.01 < d <= exact.statistic
    assert p >= exact.pvalue


def test_chi_square_matches_scipy_and_pools_rare_cells() -> None:
    ref, cur = np.array([500, 300, 200]), np.array([60, 20, 20])
    chi2, df, p = stats.chi_square(ref, cur)
    expected = scipy_stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert (chi2, df, p) == pytest.approx((expected.statistic, expected.dof, expected.pvalue))
    # 1% and 0.5% of a 100-row window are expected below five rows: pooled with each other,
    # then with the smallest cell, leaving three cells.
    _chi2, df, _p = stats.chi_square(np.array([600, 250, 134, 10, 6]), np.array([60, 25, 13, 1, 1]))
    assert df == 2


def test_jensen_shannon_and_psi() -> None:
    p, q = np.array([40, 30, 20, 10]), np.array([25, 25, 25, 25])
    assert stats.jensen_shannon(p, q) == pytest.approx(jensenshannon(p / 100, q / 100, base=2))
    assert stats.jensen_shannon(p, p) == 0.0
    expected = np.sum((q / 100 - p / 100) * np.log((q / 100) / (p / 100)))
    assert stats.psi(p * 1000, q * 1000) == pytest.approx(expected, rel=1e-3)


def test_benjamini_hochberg_matches_scipy() -> None:
    pvalues = np.random.default_rng(3).random(30) ** 3
    expected = scipy_stats.false_discovery_control(pvalues, method="bh")
    assert stats.benjamini_hochberg(pvalues) == pytest.approx(expected)


def test_noise_levels_match_simulated_quantiles() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(0, 1, 100_000)
    bins = NumericBins.fit(ref, bins=20)
    counts, sums = _binned(ref, bins)
    edges = bins.edges - bins.center
    n = 1_000
    simulated = [
        scipy_stats.wasserstein_distance(rng.normal(size=n), rng.normal(size=n)) for _ in range(400)
    ]
    noise = stats.wasserstein_noise(edges, counts, sums, stats.effective_size(n, n))
    assert np.quantile(simulated, 0.9) < noise < 1.3 * np.quantile(simulated, 0.97)
    cells = np.full(5, 0.2)
    js = [
        stats.jensen_shannon(rng.multinomial(n, cells), rng.multinomial(n, cells))
        for _ in range(400)
    ]
    js_noise = stats.jensen_shannon_noise(5, stats.effective_size(n, n))
    assert np.quantile(js, 0.9) < js_noise < 1.3 * np.quantile(js, 0.97)


def test_welch_matches_scipy() -> None:
    got = stats.welch(1.0, 4.0, 500, 1.3, 2.0, 80)
    expected = scipy_stats.ttest_ind_from_stats(1.0, 2.0, 500, 1.3, 2.0**0.5, 80, equal_var=False)
    assert got == pytest.approx(expected.pvalue)
