"""Data quality of a window: nulls, out-of-range values, unseen categories, schema breaks.

Everything comes from the window's profile, so it works on merged windows too:

- **nulls**: the window's null rate against the reference's;
- **out of range**: finite numbers outside the reference's [min, max]. Even data drawn
  from the reference distribution lands outside it with probability ``2 / (n + 1)``
  (``n`` reference values), which is the rate it is compared with;
- **unseen categories**: values the reference never had, compared with the Good–Turing
  estimate of how often new values appear by chance (the reference's share of values
  seen once);
- **schema**: rows where an input column was absent from the log, or of a type that
  cannot hold its values; infinities where the reference had none;
- **validator flags**: how many rows the serving validator flagged per column
  (``out_of_range``, ``unseen_category``) and every other flag as logged.

A rate is flagged when it is significantly above its expected rate (one-sided binomial
test, Bonferroni over all the checks of the window at ``alpha``) and by at least
``min_increase`` in absolute terms; absent and invalid rows, and unexpected infinities,
are always flagged. The prediction (score) drift comes from the drift tests.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import special

from forgeml.errors import DataError
from forgeml.monitor.categorical import CategoryBins, CategoryProfile
from forgeml.monitor.drift import ALPHA, ColumnDrift, compare
from forgeml.monitor.numeric import NumericProfile
from forgeml.monitor.profile import WindowProfile
from forgeml.monitor.reference import ColumnReference, ReferenceProfile

__all__ = ["MIN_INCREASE", "ColumnQuality", "QualityReport", "data_quality"]

MIN_INCREASE = 0.01


@dataclass(frozen=True)
class ColumnQuality:
    """Quality figures of one column in a window; ``issues`` names what was flagged."""

    column: str
    kind: str
    rows: int
    nulls: int
    null_rate: float
    reference_null_rate: float
    absent: int
    invalid: int
    infinite: int
    out_of_range: int
    out_of_range_rate: float
    expected_out_of_range_rate: float
    unseen: int | None
    unseen_rate: float | None
    expected_unseen_rate: float | None
    flagged_out_of_range: int
    flagged_unseen: int
    issues: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["issues"] = list(self.issues)
        return data


@dataclass(frozen=True)
class QualityReport:
    """Quality of every column of a window, its validator flags and its score drift."""

    reference: str
    rows: int
    columns: tuple[ColumnQuality, ...]
    flags: dict[str, int]
    prediction: ColumnDrift | None
    issues: tuple[str, ...]
    """``column:issue`` for every flagged issue (``score:drift`` for prediction drift)."""

    @property
    def ok(self) -> bool:
        """Whether nothing was flagged."""
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "rows": self.rows,
            "ok": self.ok,
            "issues": list(self.issues),
            "flags": dict(self.flags),
            "columns": [c.to_dict() for c in self.columns],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }


def data_quality(
    reference: ReferenceProfile,
    window: WindowProfile,
    *,
    alpha: float = ALPHA,
    min_increase: float = MIN_INCREASE,
) -> QualityReport:
    """Check a window's data quality against ``reference`` (see the module docstring).

    >>> import pyarrow as pa
    >>> from forgeml.monitor.reference import fit_reference
    >>> from forgeml.monitor.profile import profile_window
    >>> ref = fit_reference(pa.table({"age": list(range(18, 90)) * 10}))
    >>> window = profile_window(pa.table({"age": [30, None, None, 200] * 50}), ref)
    >>> report = data_quality(ref, window)
    >>> report.issues
    ('age:nulls', 'age:out_of_range')
    >>> report.columns[0].null_rate, report.columns[0].out_of_range
    (0.5, 50)
    """
    if window.reference != reference.id:
        raise DataError(
            f"the window was profiled against reference {window.reference}, not {reference.id}",
            fix="profile the window with profile_window(table, reference) for this reference",
        )
    rates = [
        _rates(c, reference.profile.columns[c.name], window.columns[c.name])
        for c in reference.columns
    ]
    checks = sum(sum(1 for r in column if r is not None) for column in rates)
    level = alpha / max(checks, 1)
    columns = []
    for column, found in zip(reference.columns, rates, strict=True):
        columns.append(
            _quality(
                column,
                reference.profile.columns[column.name],
                window.columns[column.name],
                window.flags,
                found,
                level,
                min_increase,
            )
        )
    prediction = compare(reference, window, alpha=alpha).prediction
    issues = [f"{c.column}:{issue}" for c in columns for issue in c.issues]
    if prediction is not None and prediction.drifted:
        issues.append("score:drift")
    return QualityReport(
        reference.id, window.rows, tuple(columns), dict(window.flags), prediction, tuple(issues)
    )


_Rate = tuple[int, int, float] | None  # (events, trials, expected rate)


def _rates(
    column: ColumnReference,
    ref: NumericProfile | CategoryProfile,
    cur: NumericProfile | CategoryProfile,
) -> tuple[_Rate, _Rate, _Rate]:
    """(nulls, out of range, unseen) as events among trials against an expected rate."""
    ref_rows = ref.count - ref.absent - ref.invalid
    cur_rows = cur.count - cur.absent - cur.invalid
    nulls: _Rate = None
    if cur_rows:
        nulls = (cur.nulls, cur_rows, (ref.nulls + 0.5) / (ref_rows + 1))
    out: _Rate = None
    unseen: _Rate = None
    if isinstance(cur, NumericProfile) and cur.present:
        out = (cur.below + cur.above, cur.present, 2 / (ref.present + 1))
    bins = column.bins
    seen = isinstance(cur, CategoryProfile) and cur.unseen is not None
    if seen and isinstance(cur, CategoryProfile) and isinstance(bins, CategoryBins):
        unseen = (cur.unseen or 0, cur.present, bins.unseen_rate) if cur.present else None
    return nulls, out, unseen


def _quality(
    column: ColumnReference,
    ref: NumericProfile | CategoryProfile,
    cur: NumericProfile | CategoryProfile,
    flags: dict[str, int],
    rates: tuple[_Rate, _Rate, _Rate],
    level: float,
    min_increase: float,
) -> ColumnQuality:
    nulls, out, unseen = rates
    issues = [
        name
        for name, rate in (("nulls", nulls), ("out_of_range", out), ("unseen", unseen))
        if rate is not None and _increased(*rate, level, min_increase)
    ]
    if cur.absent:
        issues.append("absent")
    if cur.invalid:
        issues.append("invalid")
    infinite = cur.infinite if isinstance(cur, NumericProfile) else 0
    if infinite and not (isinstance(ref, NumericProfile) and ref.infinite):
        issues.append("infinite")
    return ColumnQuality(
        column=column.name,
        kind=column.kind,
        rows=cur.count,
        nulls=cur.nulls,
        null_rate=_share(nulls),
        reference_null_rate=ref.nulls / ref.count if ref.count else 0.0,
        absent=cur.absent,
        invalid=cur.invalid,
        infinite=infinite,
        out_of_range=out[0] if out else 0,
        out_of_range_rate=_share(out),
        expected_out_of_range_rate=out[2] if out else 0.0,
        unseen=cur.unseen if isinstance(cur, CategoryProfile) else None,
        unseen_rate=_share(unseen) if unseen else None,
        expected_unseen_rate=unseen[2] if unseen else None,
        flagged_out_of_range=flags.get(f"{column.name}:out_of_range", 0),
        flagged_unseen=flags.get(f"{column.name}:unseen_category", 0),
        issues=tuple(issues),
    )


def _increased(events: int, trials: int, expected: float, level: float, minimum: float) -> bool:
    """Whether ``events / trials`` is significantly and materially above ``expected``."""
    if not trials or events / trials - expected < minimum:
        return False
    if expected <= 0:
        return events > 0
    # P(X >= events) for X ~ Binomial(trials, expected); events >= 1 here.
    return bool(special.bdtrc(events - 1, trials, min(expected, 1.0)) <= level)


def _share(rate: _Rate) -> float:
    if rate is None or not rate[1]:
        return 0.0
    value = rate[0] / rate[1]
    return value if math.isfinite(value) else 0.0
