"""Gates: the checks a candidate must pass before it is registered or promoted.

The same gate runs in ``forgeml train``, in ``forgeml gate`` (CI, exit code) and in the
retraining loop. A project without a ``gate:`` section gets the default gate: the main
metric must beat a trivial baseline (the majority class or the mean, learnt from the
training rows) and must not be worse than the champion's on the same rows.

>>> from forgeml.config import GateSpec
>>> spec = GateSpec.model_validate({"metrics": {"roc_auc": {"min": 0.75}},
...                                 "versus_champion": {"roc_auc": {"min_delta": -0.01}}})
>>> result = evaluate_gate(spec, {"roc_auc": 0.80, "rows": 500}, champion={"roc_auc": 0.82})
>>> result.passed, [c.name for c in result.failed]
(False, ['roc_auc vs champion'])
>>> default = evaluate_gate(GateSpec(), {"roc_auc": 0.80}, baseline={"roc_auc": 0.5},
...                         metric="roc_auc")
>>> default.default, default.verdict, [c.name for c in default.checks]
(True, 'gate passed', ['roc_auc vs baseline', 'roc_auc vs champion'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from forgeml.config import DeltaBound, GateSpec

__all__ = ["DEFAULT_GATE", "Check", "GateResult", "evaluate_gate", "is_declared"]

DEFAULT_GATE = (
    "no 'gate:' section in forgeml.yaml, so the default gate applies: {metric} must beat "
    "a trivial baseline and must not be worse than the champion's on the same rows"
)
# The metric the default gate judges when the caller does not name one, by task.
_FALLBACK_METRICS = ("roc_auc", "log_loss", "rmse")
_HIGHER_IS_BETTER = {"roc_auc", "pr_auc", "accuracy", "f1", "precision", "recall", "r2"}


@dataclass(frozen=True)
class Check:
    """One gate check: what was measured, the bound, and whether it held.

    A skipped check (too few rows, nothing to compare with) passes, and says why it was
    skipped in ``detail``.
    """

    name: str
    value: float | None
    bound: str
    passed: bool
    detail: str = ""
    skipped: bool = False

    @property
    def outcome(self) -> str:
        return "skipped" if self.skipped else "pass" if self.passed else "FAIL"


@dataclass(frozen=True)
class GateResult:
    checks: list[Check] = field(default_factory=list)
    default: bool = False  # no gate was declared: the default gate's checks ran
    note: str = ""  # e.g. which gate applied

    @property
    def passed(self) -> bool:
        """No check failed (a gate where every check was skipped fails nothing)."""
        return all(c.passed for c in self.checks)

    @property
    def ran(self) -> bool:
        """At least one check was evaluated rather than skipped."""
        return any(not c.skipped for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def skipped(self) -> list[Check]:
        return [c for c in self.checks if c.skipped]

    @property
    def verdict(self) -> str:
        """``gate passed``, ``gate failed``, or ``no gate check ran`` (never passed by default)."""
        if not self.passed:
            return "gate failed"
        return "gate passed" if self.ran else "no gate check ran"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed if self.ran else None,
            "verdict": self.verdict,
            "default": self.default,
            "note": self.note,
            "checks": [asdict(c) for c in self.checks],
        }


def is_declared(spec: GateSpec) -> bool:
    """Whether ``spec`` declares any check (otherwise the default gate applies)."""
    return bool(spec.min_rows or spec.metrics or spec.versus_champion or spec.slices)


def evaluate_gate(
    spec: GateSpec,
    metrics: Mapping[str, Any],
    *,
    champion: Mapping[str, Any] | None = None,
    slices: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    baseline: Mapping[str, Any] | None = None,
    metric: str | None = None,
) -> GateResult:
    """Check ``metrics`` (and the champion's on the same data, and slice metrics) against ``spec``.

    ``slices`` maps a slice column to its values' metrics: ``{"region": {"north": {...}}}``.
    ``champion`` holds the champion's metrics; when it also holds ``"candidate"`` (the
    candidate's metrics on the rows both were scored on) those are compared, and an
    ``"error"`` sentence fails the comparison. When ``spec`` declares nothing, the default
    gate judges ``metric`` against ``baseline`` (a trivial predictor's metrics on the same
    rows) and the champion. A metric the spec names but the candidate lacks fails its
    check, never passes silently.
    """
    if not is_declared(spec):
        return _default_gate(metrics, champion, baseline, metric)
    checks: list[Check] = []
    rows = metrics.get("rows")
    if spec.min_rows:
        checks.append(
            Check("rows", rows, f">= {spec.min_rows}", rows is not None and rows >= spec.min_rows)
        )
    for name, bound in spec.metrics.items():
        checks.append(_bounded(name, metrics.get(name), bound.min, bound.max))
    for name, delta in spec.versus_champion.items():
        checks.append(_versus_champion(name, delta, metrics, champion))
    for name, bound in spec.slices.items():
        for column, values in (slices or {}).items():
            for value, slice_metrics in values.items():
                checks.append(
                    _slice_check(name, bound.min, bound.max, column, value, slice_metrics, spec)
                )
    return GateResult(checks)


def _default_gate(
    metrics: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    baseline: Mapping[str, Any] | None,
    metric: str | None,
) -> GateResult:
    name = metric or next((n for n in _FALLBACK_METRICS if n in metrics), None)
    if name is None:
        return GateResult([], default=True, note="no 'gate:' section and no main metric measured")
    higher = name in _HIGHER_IS_BETTER
    checks = []
    if baseline is not None:
        mine, theirs = _number(metrics.get(name)), _number(baseline.get(name))
        ok = (
            mine is not None and theirs is not None and (mine > theirs if higher else mine < theirs)
        )
        checks.append(
            Check(
                f"{name} vs baseline",
                mine,
                f"{'>' if higher else '<'} {_text(theirs)}",
                ok,
                f"a trivial baseline ({_baseline_kind(baseline)}) scores {_text(theirs)}",
            )
        )
    not_worse = DeltaBound(min_delta=0.0) if higher else DeltaBound(max_delta=0.0)
    checks.append(_versus_champion(name, not_worse, metrics, champion))
    return GateResult(checks, default=True, note=DEFAULT_GATE.format(metric=name))


def _versus_champion(
    name: str, delta: DeltaBound, metrics: Mapping[str, Any], champion: Mapping[str, Any] | None
) -> Check:
    label = f"{name} vs champion"
    if champion is None:
        return Check(label, None, "no champion", True, "no champion yet: nothing to compare", True)
    if champion.get("error"):
        return Check(label, None, "champion scored", False, str(champion["error"]))
    mine = _number((champion.get("candidate") or metrics).get(name))
    theirs = _number(champion.get(name))
    if mine is None or theirs is None:
        missing = "candidate" if mine is None else "champion"
        return Check(label, mine, "both measured", False, f"{name} missing for the {missing}")
    change = mine - theirs
    ok = (delta.min_delta is None or change >= delta.min_delta) and (
        delta.max_delta is None or change <= delta.max_delta
    )
    detail = f"candidate {_text(mine)}, champion {_text(theirs)}"
    if champion.get("note"):
        detail += f"; {champion['note']}"
    return Check(
        label, change, _limits(delta.min_delta, delta.max_delta, "change ", "+g"), ok, detail
    )


def _slice_check(
    name: str,
    low: float | None,
    high: float | None,
    column: str,
    value: Any,
    metrics: Mapping[str, Any],
    spec: GateSpec,
) -> Check:
    label, rows = f"{name} on {column}={value}", metrics.get("rows") or 0
    if rows < spec.min_slice_rows:
        return Check(
            label,
            None,
            _limits(low, high),
            True,
            f"too few rows to judge: {rows}, fewer than min_slice_rows ({spec.min_slice_rows})",
            skipped=True,
        )
    check = _bounded(name, metrics.get(name), low, high)
    return Check(label, check.value, check.bound, check.passed, f"{rows} rows")


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


def _baseline_kind(baseline: Mapping[str, Any]) -> str:
    return str(baseline.get("predictor") or "constant prediction")


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
