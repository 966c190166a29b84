"""Gates: the declared checks a candidate must pass before it is registered or promoted.

The same gate runs in ``forgeml train``, in ``forgeml gate`` (CI, exit code) and in the
retraining loop.

>>> from forgeml.config import GateSpec
>>> spec = GateSpec.model_validate({"metrics": {"roc_auc": {"min": 0.75}},
...                                 "versus_champion": {"roc_auc": {"min_delta": -0.01}}})
>>> result = evaluate_gate(spec, {"roc_auc": 0.80, "rows": 500}, champion={"roc_auc": 0.82})
>>> result.passed, [c.name for c in result.failed]
(False, ['roc_auc vs champion'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from forgeml.config import GateSpec

__all__ = ["Check", "GateResult", "evaluate_gate"]


@dataclass(frozen=True)
class Check:
    """One gate check: what was measured, the bound, and whether it held."""

    name: str
    value: float | None
    bound: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class GateResult:
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else f"failed {len(self.failed)}"
        return f"<GateResult {verdict} of {len(self.checks)} checks>"


def evaluate_gate(
    spec: GateSpec,
    metrics: Mapping[str, Any],
    *,
    champion: Mapping[str, Any] | None = None,
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> GateResult:
    """Check ``metrics`` (and the champion's on the same data, and slice metrics) against ``spec``.

    ``slices`` maps a slice column to its values' metrics: ``{"region": {"north": {...}}}``.
    A metric the spec names but the candidate lacks fails its check, never passes silently.
    """
    checks: list[Check] = []
    rows = metrics.get("rows")
    if spec.min_rows:
        checks.append(
            Check("rows", rows, f">= {spec.min_rows}", rows is not None and rows >= spec.min_rows)
        )
    for name, bound in spec.metrics.items():
        checks.append(_bounded(name, metrics.get(name), bound.min, bound.max))
    for name, delta in spec.versus_champion.items():
        if champion is None:
            checks.append(
                Check(
                    f"{name} vs champion",
                    None,
                    "no champion",
                    True,
                    "no champion yet: nothing to compare",
                )
            )
            continue
        if champion.get("error"):
            checks.append(
                Check(
                    f"{name} vs champion",
                    None,
                    "champion scored",
                    False,
                    f"the champion could not score these rows: {champion['error']}",
                )
            )
            continue
        mine, theirs = _number(metrics.get(name)), _number(champion.get(name))
        if mine is None or theirs is None:
            checks.append(
                Check(
                    f"{name} vs champion",
                    mine,
                    "both measured",
                    False,
                    f"{name} missing for the {'candidate' if mine is None else 'champion'}",
                )
            )
            continue
        change = mine - theirs
        ok = (delta.min_delta is None or change >= delta.min_delta) and (
            delta.max_delta is None or change <= delta.max_delta
        )
        limits = _limits(delta.min_delta, delta.max_delta, "change ", "+g")
        checks.append(
            Check(
                f"{name} vs champion",
                change,
                limits,
                ok,
                f"candidate {mine:.4g}, champion {theirs:.4g}",
            )
        )
    for name, bound in spec.slices.items():
        for column, values in (slices or {}).items():
            for value, slice_metrics in values.items():
                if (slice_metrics.get("rows") or 0) < spec.min_slice_rows:
                    continue  # too few rows to judge
                check = _bounded(name, slice_metrics.get(name), bound.min, bound.max)
                checks.append(
                    Check(
                        f"{name} on {column}={value}",
                        check.value,
                        check.bound,
                        check.passed,
                        f"{slice_metrics.get('rows')} rows",
                    )
                )
    return GateResult(checks)


def _bounded(name: str, raw: Any, low: float | None, high: float | None) -> Check:
    value = _number(raw)
    text = _limits(low, high)
    if value is None:
        return Check(name, None, text, False, f"{name} was not measured")
    ok = (low is None or value >= low) and (high is None or value <= high)
    return Check(name, value, text, ok)


def _limits(low: float | None, high: float | None, label: str = "", spec: str = "g") -> str:
    parts = [
        f"{label}>= {low:{spec}}" if low is not None else "",
        f"{label}<= {high:{spec}}" if high is not None else "",
    ]
    return " and ".join(p for p in parts if p)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
