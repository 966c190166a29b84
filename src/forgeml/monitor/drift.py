"""Drift of a window against its reference, per column and for the whole dataset.

A column drifts when its change is both **significant** and **large enough to matter**:

- significance: numeric columns take the smaller p-value of a KS test (any change of
  distribution: exact on the values when the window kept them, else on the bins) and
  Welch's t-test (the mean, the most common change), doubled (Bonferroni over the two);
  categorical columns (category, text, boolean) a chi-square test of homogeneity, on
  the top categories whose rank the reference settles beyond sampling noise (the rest
  pooled with "other"). The
  p-values of all tested columns are adjusted by Benjamini–Hochberg, so across columns
  the expected share of false discoveries stays at ``alpha``, and on a window drawn from
  the reference distribution (A/A) the chance of flagging any column at all stays at or
  below ``alpha``.
- effect size: the normalised Wasserstein distance (W1 over the reference standard
  deviation, the shift in standard deviations for a shift) for numbers, the
  Jensen–Shannon distance for categories, must reach ``max(minimum, noise)``, where
  ``noise`` is the 95th percentile of that distance between two samples of one
  distribution of these sizes. The minimum keeps large windows, where any tiny shift is
  significant, from alerting on irrelevant changes; the noise term keeps small windows
  from alerting on sampling noise.

PSI, KS, chi-square and the per-test p-values are reported beside the decision.
Timestamp columns are reported but not tested by default: time moves on, so a later
window lies outside the training range by construction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from forgeml.errors import DataError
from forgeml.monitor import stats
from forgeml.monitor.categorical import CategoryBins, CategoryProfile
from forgeml.monitor.numeric import NumericBins, NumericProfile
from forgeml.monitor.profile import WindowProfile
from forgeml.monitor.reference import ColumnReference, ReferenceProfile

__all__ = [
    "ALPHA",
    "MIN_JENSEN_SHANNON",
    "MIN_WASSERSTEIN",
    "ColumnDrift",
    "DriftReport",
    "compare",
]

ALPHA = 0.05
MIN_WASSERSTEIN = 0.05
MIN_JENSEN_SHANNON = 0.05


@dataclass(frozen=True)
class ColumnDrift:
    """The drift statistics and decision of one column (None: not computed for its kind)."""

    column: str
    kind: str
    test: str
    """``ks+welch`` (exact KS on values), ``ks_bins+welch``, ``chi2``, or ``none``."""
    tested: bool
    drifted: bool
    rows: int
    reference_rows: int
    pvalue: float
    adjusted_pvalue: float
    effect: float
    """The decision's effect size: normalised Wasserstein (numbers), Jensen–Shannon."""
    threshold: float
    psi: float
    jensen_shannon: float
    wasserstein: float | None = None
    ks: float | None = None
    ks_pvalue: float | None = None
    mean_pvalue: float | None = None
    mean_shift: float | None = None
    """Window mean minus reference mean, in reference standard deviations."""
    chi2: float | None = None
    chi2_df: int | None = None
    chi2_pvalue: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite numbers as None)."""
        return {k: _safe(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift, and the dataset's: drifted when any column is (FDR-controlled)."""

    reference: str
    rows: int
    reference_rows: int
    alpha: float
    columns: tuple[ColumnDrift, ...]
    prediction: ColumnDrift | None
    drifted: bool
    drifted_columns: tuple[str, ...]
    share: float
    """Share of tested columns that drifted."""

    def column(self, name: str) -> ColumnDrift:
        """The drift of column ``name``."""
        for column in self.columns:
            if column.column == name:
                return column
        raise DataError(
            f"the drift report has no column '{name}'",
            fix=f"choose from: {', '.join(c.column for c in self.columns)}",
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the whole report."""
        return {
            "reference": self.reference,
            "rows": self.rows,
            "reference_rows": self.reference_rows,
            "alpha": self.alpha,
            "drifted": self.drifted,
            "drifted_columns": list(self.drifted_columns),
            "share": self.share,
            "columns": [c.to_dict() for c in self.columns],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }


def compare(
    reference: ReferenceProfile,
    window: WindowProfile,
    *,
    alpha: float = ALPHA,
    min_wasserstein: float = MIN_WASSERSTEIN,
    min_jensen_shannon: float = MIN_JENSEN_SHANNON,
    timestamps: bool = False,
) -> DriftReport:
    """Test every column of ``window`` for drift from ``reference`` (see the module doc).

    >>> import pyarrow as pa
    >>> from forgeml.monitor.reference import fit_reference
    >>> from forgeml.monitor.profile import profile_window
    >>> rng = np.random.default_rng(0)
    >>> ref = fit_reference(pa.table({"x": rng.normal(size=20_000), "y": rng.normal(size=20_000)}))
    >>> window = pa.table({"x": rng.normal(0.5, 1, 5_000), "y": rng.normal(size=5_000)})
    >>> report = compare(ref, profile_window(window, ref))
    >>> report.drifted, report.drifted_columns, round(report.column("x").mean_shift, 1)
    (True, ('x',), 0.5)
    """
    if window.reference != reference.id:
        raise DataError(
            f"the window was profiled against reference {window.reference}, not {reference.id}",
            fix="profile the window with profile_window(table, reference) for this reference",
        )
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1), not {alpha!r}", fix="pass alpha=0.05")
    limits = (min_wasserstein, min_jensen_shannon)
    found = [
        _column(c, reference.profile.columns[c.name], window.columns[c.name], limits)
        for c in reference.columns
    ]
    tested = [i for i, c in enumerate(found) if c.tested and (timestamps or c.kind != "timestamp")]
    adjusted = stats.benjamini_hochberg(np.array([found[i].pvalue for i in tested]))
    columns = list(found)
    for i, p in zip(tested, adjusted, strict=True):
        column = found[i]
        drifted = bool(p <= alpha and column.effect >= column.threshold)
        columns[i] = replace(column, adjusted_pvalue=float(p), drifted=drifted)
    for i, column in enumerate(columns):
        if i not in tested:
            columns[i] = replace(column, tested=False, drifted=False)
    prediction = None
    if reference.prediction is not None and window.prediction is not None:
        score = _column(
            reference.prediction, reference.profile.prediction, window.prediction, limits
        )
        drifted = score.tested and score.pvalue <= alpha and score.effect >= score.threshold
        prediction = replace(score, drifted=bool(drifted))
    drifted_columns = tuple(c.column for c in columns if c.drifted)
    return DriftReport(
        reference=reference.id,
        rows=window.rows,
        reference_rows=reference.profile.rows,
        alpha=alpha,
        columns=tuple(columns),
        prediction=prediction,
        drifted=bool(drifted_columns),
        drifted_columns=drifted_columns,
        share=len(drifted_columns) / len(tested) if tested else 0.0,
    )


def _column(
    column: ColumnReference,
    ref: Any,
    cur: Any,
    limits: tuple[float, float],
) -> ColumnDrift:
    if isinstance(column.bins, NumericBins):
        return _numeric(column, column.bins, ref, cur, limits[0])
    return _categorical(column, ref, cur, limits[1])


def _numeric(
    column: ColumnReference,
    bins: NumericBins,
    ref: NumericProfile,
    cur: NumericProfile,
    minimum: float,
) -> ColumnDrift:
    n_ref, n_cur = ref.present, cur.present
    base: dict[str, Any] = {
        "column": column.name,
        "kind": column.kind,
        "rows": n_cur,
        "reference_rows": n_ref,
        "psi": stats.psi(ref.counts, cur.counts),
        "jensen_shannon": stats.jensen_shannon(ref.counts, cur.counts) if n_cur else 0.0,
    }
    if n_ref < 2 or n_cur < 2:
        return _untested(base)
    edges = bins.edges - bins.center
    var_ref, var_cur = ref.variance() or 0.0, cur.variance() or 0.0
    mean_ref, mean_cur = ref.mean(bins) or 0.0, cur.mean(bins) or 0.0
    std = math.sqrt(var_ref * (n_ref - 1) / n_ref)
    scale = std if std > 0 else max(abs(bins.center), 1.0)
    distance = stats.wasserstein_binned(edges, (ref.counts, ref.sums), (cur.counts, cur.sums))
    if cur.values is not None and column.sample is not None:
        test = "ks+welch"
        ks, ks_p = stats.ks_samples(column.sample, cur.values)
    else:
        test = "ks_bins+welch"
        ks, ks_p = stats.ks_binned(ref.counts, cur.counts)
    mean_p = stats.welch(mean_ref, var_ref, n_ref, mean_cur, var_cur, n_cur)
    noise = stats.wasserstein_noise(edges, ref.counts, ref.sums, stats.effective_size(n_ref, n_cur))
    return ColumnDrift(
        **base,
        test=test,
        tested=True,
        drifted=False,
        pvalue=min(1.0, 2 * min(ks_p, mean_p)),
        adjusted_pvalue=1.0,
        effect=distance / scale,
        threshold=max(minimum, noise / scale),
        wasserstein=distance / scale,
        ks=ks,
        ks_pvalue=ks_p,
        mean_pvalue=mean_p,
        mean_shift=(mean_cur - mean_ref) / scale,
    )


def _categorical(
    column: ColumnReference, ref: CategoryProfile, cur: CategoryProfile, minimum: float
) -> ColumnDrift:
    n_ref, n_cur = ref.present, cur.present
    base: dict[str, Any] = {
        "column": column.name,
        "kind": column.kind,
        "rows": n_cur,
        "reference_rows": n_ref,
        "psi": stats.psi(ref.counts, cur.counts),
        "jensen_shannon": stats.jensen_shannon(ref.counts, cur.counts) if n_cur and n_ref else 0.0,
    }
    if n_ref < 2 or n_cur < 2:
        return _untested(base)
    chi2, df, p = stats.chi_square(*_settled(column.bins, ref.counts, cur.counts))
    cells = int(np.count_nonzero((ref.counts + cur.counts) > 0))
    noise = stats.jensen_shannon_noise(cells, stats.effective_size(n_ref, n_cur))
    return ColumnDrift(
        **base,
        test="chi2",
        tested=df > 0,
        drifted=False,
        pvalue=p,
        adjusted_pvalue=1.0,
        effect=base["jensen_shannon"],
        threshold=max(minimum, noise),
        chi2=chi2,
        chi2_df=df,
        chi2_pvalue=p,
    )


def _settled(bins: Any, ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cells with "other" absorbing every category whose place in the top categories
    the reference's sampling noise could have decided (share, in both samples together,
    within three standard errors of the first category left out): a category counted as
    top because the reference happened to see it often would bias the test against
    every window. Deciding on both samples' counts keeps the test's level."""
    n = int(ref.sum())
    if not isinstance(bins, CategoryBins) or bins.cutoff <= 0 or not n:
        return ref, cur
    margin = 3 * math.sqrt(bins.cutoff * (1 - bins.cutoff) / n)
    share = (ref + cur) / (n + cur.sum())  # both samples: the choice ignores which is which
    loose = np.append(share[:-1] <= bins.cutoff + margin, True)  # "other" stays
    return (
        np.append(ref[~loose], ref[loose].sum()),
        np.append(cur[~loose], cur[loose].sum()),
    )


def _untested(base: dict[str, Any]) -> ColumnDrift:
    return ColumnDrift(
        **base,
        test="none",
        tested=False,
        drifted=False,
        pvalue=1.0,
        adjusted_pvalue=1.0,
        effect=0.0,
        threshold=0.0,
    )


def _safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
