"""The statistics drift decisions are made of, computed from bin counts and moments.

Everything here takes counts per bin (and per-bin sums) of a reference and a window,
so it works on merged profiles without the rows. What is exact and what is not:

- PSI and Jensen–Shannon: exact functions of the bin counts (PSI smooths each count by
  0.5 so an empty bin stays finite).
- Wasserstein-1: per bin, the integral of ``F_ref - F_window`` is exact, because
  ``∫_{-∞}^a F(x) dx = E[(a - X)⁺]`` and each bin's count and sum give that at every
  edge. Their absolute values summed equal W1 whenever the two CDFs do not cross inside
  a bin (a shift, a change of scale), and are a lower bound otherwise; never below the
  exact ``|mean difference|``.
- KS on bins: the exact KS statistic restricted to the bin edges (a lower bound of the
  full one), with the asymptotic p-value (Stephens' small-sample correction): conservative.
  KS on samples (:func:`ks_samples`) is exact for small samples.
- Chi-square: the two-sample test of homogeneity, with cells expected to hold fewer than
  five rows pooled into the last one (Cochran's rule, on both samples' counts).
- Noise levels (:func:`wasserstein_noise`, :func:`jensen_shannon_noise`): the asymptotic
  95th percentile of each distance between two samples of one distribution, for the
  effect-size floor at small windows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special

__all__ = [
    "NOISE_QUANTILE",
    "benjamini_hochberg",
    "chi_square",
    "effective_size",
    "jensen_shannon",
    "jensen_shannon_noise",
    "ks_binned",
    "ks_pvalue",
    "ks_samples",
    "psi",
    "wasserstein_binned",
    "wasserstein_noise",
    "welch",
]

NOISE_QUANTILE = 0.95
# The 95th percentile of ∫|B(F(x))|dx (B a Brownian bridge) over its mean, simulated for
# uniform, normal, exponential, lognormal and t(5) F (1.86, 1.70, 1.69, 1.64, 1.56): the
# largest is used.
_W_NOISE_RATIO = 1.86
_MIN_EXPECTED = 5.0


def effective_size(n_ref: int, n_cur: int) -> float:
    """The sample size a two-sample statistic behaves like: ``n·m / (n + m)``.

    >>> effective_size(1_000_000, 1_000)
    999.000999000999
    """
    return n_ref * n_cur / (n_ref + n_cur) if n_ref and n_cur else 0.0


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index of two count vectors (each count smoothed by 0.5).

    >>> round(psi(np.array([50, 50]), np.array([60, 40])), 4)
    0.0397
    """
    p = (ref + 0.5) / (ref.sum() + 0.5 * len(ref))
    q = (cur + 0.5) / (cur.sum() + 0.5 * len(cur))
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) of two count vectors.

    >>> jensen_shannon(np.array([1, 0]), np.array([0, 1]))
    1.0
    >>> round(jensen_shannon(np.array([50, 50]), np.array([60, 40])), 4)
    0.0854
    """
    p, q = ref / ref.sum(), cur / cur.sum()
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def jensen_shannon_noise(cells: int, n_eff: float, quantile: float = NOISE_QUANTILE) -> float:
    """The ``quantile`` of the Jensen–Shannon distance between two samples of one
    distribution over ``cells`` cells: JS divergence ≈ χ²(cells - 1) / (8 n_eff ln 2).

    >>> round(jensen_shannon_noise(5, 1000), 4)
    0.0414
    """
    if cells < 2 or n_eff <= 0:
        return 0.0
    chi = float(special.chdtri(cells - 1, 1 - quantile))  # the chi-square quantile
    return math.sqrt(chi / (8 * n_eff * math.log(2)))


def ks_pvalue(d: float, n_eff: float) -> float:
    """Asymptotic KS p-value with Stephens' correction for ``n_eff`` observations.

    >>> round(ks_pvalue(0.05, 1000), 3)
    0.013
    """
    if n_eff <= 0:
        return 1.0
    root = math.sqrt(n_eff)
    return float(min(1.0, special.kolmogorov((root + 0.12 + 0.11 / root) * d)))


def ks_binned(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """KS statistic over the bin edges of two count vectors, and its (conservative) p-value.

    >>> d, p = ks_binned(np.array([500, 500]), np.array([400, 600]))
    >>> round(d, 3), p < 0.01
    (0.1, True)
    """
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if not n_ref or not n_cur or len(ref) < 2:
        return 0.0, 1.0
    gap = np.abs(np.cumsum(ref[:-1]) / n_ref - np.cumsum(cur[:-1]) / n_cur)
    d = float(gap.max())
    return d, ks_pvalue(d, effective_size(n_ref, n_cur))


def ks_samples(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """Two-sample KS on the values themselves (exact p-value for small samples)."""
    if not len(ref) or not len(cur):
        return 0.0, 1.0
    from scipy import stats  # only small windows need it; scipy.stats costs 60 MB

    with warnings.catch_warnings():
        # Where the exact computation fails scipy falls back to the asymptotic p-value.
        warnings.filterwarnings("ignore", "ks_2samp: Exact calculation", RuntimeWarning)
        result = stats.ks_2samp(ref, cur, method="auto")
    return float(result.statistic), float(result.pvalue)


def welch(
    mean_ref: float, var_ref: float, n_ref: int, mean_cur: float, var_cur: float, n_cur: int
) -> float:
    """Two-sided p-value of Welch's t-test for a difference in means.

    >>> round(welch(0.0, 1.0, 10_000, 0.1, 1.0, 1_000), 4)
    0.0026
    """
    if n_ref < 2 or n_cur < 2:
        return 1.0
    a, b = var_ref / n_ref, var_cur / n_cur
    if a + b <= 0:
        return 1.0 if mean_ref == mean_cur else 0.0
    t = (mean_cur - mean_ref) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a * a / (n_ref - 1) + b * b / (n_cur - 1))
    return float(min(1.0, 2 * special.stdtr(df, -abs(t))))


def wasserstein_binned(
    edges: np.ndarray,
    ref: tuple[np.ndarray, np.ndarray],
    cur: tuple[np.ndarray, np.ndarray],
) -> float:
    """W1 distance from (counts, sums) per bin of two samples; ``edges`` and sums must be
    taken relative to the same centre. Exact per bin (see the module docstring).

    >>> edges = np.array([0.0])
    >>> ref = (np.array([1, 1]), np.array([-1.0, 1.0]))   # values -1, 1
    >>> cur = (np.array([1, 1]), np.array([-0.5, 1.5]))   # values -0.5, 1.5
    >>> wasserstein_binned(edges, ref, cur)
    0.5
    """
    a, b = _bin_integrals(edges, *ref), _bin_integrals(edges, *cur)
    if a is None or b is None:
        return 0.0
    return float(np.abs(a - b).sum())


def wasserstein_noise(
    edges: np.ndarray, counts: np.ndarray, sums: np.ndarray, n_eff: float
) -> float:
    """The 95th percentile of W1 between two samples (``n_eff``) of the reference's
    distribution: ``1.86 · sqrt(2/π) · ∫ sqrt(F(1-F)) dx / sqrt(n_eff)``.

    The integral uses the reference's CDF at the edges (trapezoids inside, exponential
    tails in the open outer bins, an upper bound for tails lighter than exponential).
    """
    n = counts.sum()
    if n == 0 or n_eff <= 0 or len(edges) == 0:
        return 0.0
    cdf = np.cumsum(counts[:-1]) / n
    spread = np.sqrt(cdf * (1 - cdf))
    inner = float(np.sum(np.diff(edges) * (spread[:-1] + spread[1:]) / 2))
    left = _tail(counts[0], sums[0], edges[0], below=True) * 2 * float(spread[0])
    right = _tail(counts[-1], sums[-1], edges[-1], below=False) * 2 * float(spread[-1])
    integral = inner + left + right
    return _W_NOISE_RATIO * math.sqrt(2 / math.pi) * integral / math.sqrt(n_eff)


def chi_square(ref: np.ndarray, cur: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity of two count vectors: (statistic, df, p-value).

    Cells expected to hold fewer than five rows of the smaller sample are pooled into the
    last cell ("other"); expected counts come from both samples together, which keeps the
    test's level (the pooling does not depend on which sample a row came from).

    >>> stat, df, p = chi_square(np.array([300, 300, 400]), np.array([100, 100, 100]))
    >>> round(stat, 3), df, round(p, 4)
    (4.333, 2, 0.1146)
    """
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if not n_ref or not n_cur:
        return 0.0, 0, 1.0
    expected = (ref + cur) / (n_ref + n_cur) * min(n_ref, n_cur)
    rare = np.append(expected[:-1] < _MIN_EXPECTED, True)  # the last cell takes the rare
    ref = np.append(ref[~rare], ref[rare].sum())
    cur = np.append(cur[~rare], cur[rare].sum())
    if len(ref) > 2 and (ref[-1] + cur[-1]) / (n_ref + n_cur) * min(n_ref, n_cur) < _MIN_EXPECTED:
        smallest = int(np.argmin(ref[:-1] + cur[:-1]))  # a pool still too small joins a cell
        ref[smallest] += ref[-1]
        cur[smallest] += cur[-1]
        ref, cur = ref[:-1], cur[:-1]
    used = (ref + cur) > 0
    ref, cur = ref[used], cur[used]
    if len(ref) < 2:
        return 0.0, 0, 1.0
    table = np.vstack([ref, cur]).astype(np.float64)
    share = table.sum(axis=0) / table.sum()
    want = np.outer(table.sum(axis=1), share)
    statistic = float(((table - want) ** 2 / want).sum())
    df = len(ref) - 1
    return statistic, df, float(special.chdtrc(df, statistic))


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (reject where adjusted ≤ the FDR level).

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    m = len(pvalues)
    if not m:
        return np.empty(0)
    order = np.argsort(pvalues)
    scaled = pvalues[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def _bin_integrals(edges: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> np.ndarray | None:
    """Per bin, ∫ F(x) dx (first bins) or ∫ (F(x) - 1) dx (the last, open one)."""
    n = counts.sum()
    if n == 0:
        return None
    if len(edges) == 0:
        return np.array([-sums[0] / n])  # ∫(F_a - F_b) over R = mean_b - mean_a
    below = np.cumsum(counts[:-1]) / n  # P(X < e_j)
    partial = np.cumsum(sums[:-1]) / n  # E[X; X < e_j]
    at_edges = edges * below - partial  # ∫_{-∞}^{e_j} F = E[(e_j - X)⁺]
    last = -(sums[-1] - edges[-1] * counts[-1]) / n  # -E[(X - e_m)⁺]
    return np.concatenate([[at_edges[0]], np.diff(at_edges), [last]])


def _tail(count: int, total: float, edge: float, *, below: bool) -> float:
    """Distance between an outer bin's mean and its edge (0 for an empty bin)."""
    if not count:
        return 0.0
    mean = total / count
    return max(edge - mean, 0.0) if below else max(mean - edge, 0.0)
