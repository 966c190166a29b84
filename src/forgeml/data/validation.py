"""Validation rules from ``forgeml.yaml``, checked with vectorised Arrow kernels.

>>> from forgeml.config import ValidationSpec
>>> rules = ValidationSpec.model_validate(
...     {"columns": {"age": {"min": 18}, "plan": {"allowed": ["basic", "pro"]}}})
>>> table = pa.table({"age": [17, 30, 12], "plan": ["basic", "gold", "pro"]})
>>> for v in validate(table, rules):
...     print(v.column, v.rule, v.count, v.examples)
age min 18 2 ['17', '12']
plan allowed 1 ["'gold'"]

:func:`rule_results` lists every rule with its outcome; ingest keeps that list in the
dataset version's profile, under ``validation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import ColumnRule, ValidationSpec

__all__ = ["Violation", "rule_results", "validate"]

MAX_EXAMPLES = 5
MAX_SHOWN_VALUES = 20  # allowed values a rule's description lists
TABLE = "(table)"
PASSED = "passed"
NOT_CHECKED = "not checked"

_TYPE_CHECKS = {
    "integer": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "number": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "boolean": pa.types.is_boolean,
    "string": pa.types.is_large_string,
    "category": pa.types.is_large_string,
    "timestamp": pa.types.is_timestamp,
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: which column, which rule, how many rows, a few offending values."""

    column: str
    rule: str
    count: int
    examples: list[str] = field(default_factory=list)


def validate(table: pa.Table, rules: ValidationSpec) -> list[Violation]:
    """Every violation of ``rules`` in a normalised ``table``; empty when it passes."""
    found: list[Violation] = []
    rows = table.num_rows
    if rows < rules.rows.min:
        found.append(Violation(TABLE, f"rows >= {rules.rows.min}", rows, [f"{rows} rows"]))
    if rules.rows.max is not None and rows > rules.rows.max:
        found.append(Violation(TABLE, f"rows <= {rules.rows.max}", rows, [f"{rows} rows"]))
    present = set(table.column_names)
    for name in dict.fromkeys([*rules.required, *rules.columns]):
        if name not in present:
            found.append(Violation(name, "required", 1, ["column is missing"]))
    for name, rule in rules.columns.items():
        if name in present:
            found.extend(_check_column(name, table.column(name), rule))
    return found


def rule_results(rules: ValidationSpec, violations: Sequence[Violation]) -> list[dict[str, str]]:
    """Each rule of ``rules`` with its column and its result, given what :func:`validate`
    found: ``passed``, ``failed: N rows``, or ``not checked`` (the column is missing or
    has the wrong type, so its value rules were skipped).

    >>> from forgeml.config import ValidationSpec
    >>> rules = ValidationSpec.model_validate({"columns": {"age": {"min": 18}}})
    >>> table = pa.table({"age": [17, 30]})
    >>> for result in rule_results(rules, validate(table, rules)):
    ...     print(result)
    {'rule': 'rows >= 1', 'column': '(table)', 'result': 'passed'}
    {'rule': 'required', 'column': 'age', 'result': 'passed'}
    {'rule': 'min 18', 'column': 'age', 'result': 'failed: 1 row'}
    """
    broken = {(v.column, v.rule): v.count for v in violations}
    skipped = {v.column for v in violations if v.rule == "required" or v.rule.startswith("type ")}
    results = []
    for column, rule, shown in _rules(rules):
        if (column, rule) in broken:
            count = broken[column, rule]
            result = f"failed: {count} row{'' if count == 1 else 's'}"
        elif column in skipped and rule != "required" and not rule.startswith("type "):
            result = NOT_CHECKED
        else:
            result = PASSED
        results.append({"rule": shown, "column": column, "result": result})
    return results


def _rules(rules: ValidationSpec) -> list[tuple[str, str, str]]:
    """(column, rule as a violation names it, rule as a person reads it) for every rule."""
    found = [(TABLE, f"rows >= {rules.rows.min}", f"rows >= {rules.rows.min}")]
    if rules.rows.max is not None:
        found.append((TABLE, f"rows <= {rules.rows.max}", f"rows <= {rules.rows.max}"))
    found += [(name, "required", "required") for name in dict.fromkeys(rules.required)]
    for name, rule in rules.columns.items():
        if name not in rules.required:
            found.append((name, "required", "required"))
        named = []
        if rule.type:
            named.append(f"type {rule.type}")
        if not rule.nullable:
            named.append("not null")
        if rule.max_null_fraction is not None:
            named.append(f"max_null_fraction {rule.max_null_fraction}")
        for label, bound in (("min", rule.min), ("max", rule.max)):
            if bound is not None:
                named.append(f"{label} {bound:g}")
        found += [(name, n, n) for n in named]
        if rule.allowed is not None:
            values = ", ".join(_show(v) for v in rule.allowed[:MAX_SHOWN_VALUES])
            more = ", ..." if len(rule.allowed) > MAX_SHOWN_VALUES else ""
            found.append((name, "allowed", f"allowed: {values}{more}"))
        if rule.unique:
            found.append((name, "unique", "unique"))
    return found


def _check_column(name: str, column: pa.ChunkedArray, rule: ColumnRule) -> list[Violation]:
    found: list[Violation] = []
    kind = column.type
    if rule.type and not pa.types.is_null(kind) and not _TYPE_CHECKS[rule.type](kind):
        # Value rules would be meaningless on the wrong type; report the type only.
        return [Violation(name, f"type {rule.type}", len(column), [f"found {kind}"])]
    nulls = column.null_count
    if not rule.nullable and nulls:
        rows = pc.indices_nonzero(pc.is_null(column))[:MAX_EXAMPLES].to_pylist()
        found.append(Violation(name, "not null", nulls, [f"row {r + 1}" for r in rows]))
    if rule.max_null_fraction is not None and len(column):
        fraction = nulls / len(column)
        if fraction > rule.max_null_fraction:
            found.append(
                Violation(
                    name,
                    f"max_null_fraction {rule.max_null_fraction}",
                    nulls,
                    [f"{fraction:.1%} null"],
                )
            )
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    for bound, op, label in ((rule.min, pc.less, "min"), (rule.max, pc.greater, "max")):
        if bound is None:
            continue
        if not numeric:
            found.append(
                Violation(
                    name,
                    f"{label} {bound:g}",
                    len(column),
                    [f"{label} needs a numeric column, found {kind}"],
                )
            )
            continue
        found.extend(_offending(name, f"{label} {bound:g}", column, op(column, bound)))
    if rule.allowed is not None:
        allowed = pa.array(rule.allowed).cast(kind) if _castable(rule.allowed, kind) else None
        mask = pc.invert(pc.is_in(column, value_set=allowed)) if allowed is not None else None
        if mask is None:
            mask = pc.is_valid(column)
        found.extend(_offending(name, "allowed", column, pc.and_(mask, pc.is_valid(column))))
    if rule.unique:
        counts = pc.value_counts(column.drop_null())
        repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
        if len(repeated):
            total = int(pc.sum(repeated.field("counts")).as_py())
            values = repeated.field("values")[:MAX_EXAMPLES].to_pylist()
            found.append(Violation(name, "unique", total, [_show(v) for v in values]))
    return found


def _offending(
    name: str, rule: str, column: pa.ChunkedArray, mask: pa.ChunkedArray
) -> list[Violation]:
    mask = pc.fill_null(mask, False)
    count = int(pc.sum(mask).as_py() or 0)
    if not count:
        return []
    bad = pc.filter(column, mask)
    examples = pc.unique(bad[: MAX_EXAMPLES * 20])[:MAX_EXAMPLES].to_pylist()
    return [Violation(name, rule, count, [_show(v) for v in examples])]


def _castable(values: Sequence[object], kind: pa.DataType) -> bool:
    try:
        pa.array(values).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
