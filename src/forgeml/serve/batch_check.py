"""The HTTP server's input rules, applied to a chunk of a file column by column, per row.

A :class:`ChunkChecker` takes the :class:`~forgeml.serve.inputs.InputSchema` the server
builds for the same model version, so the rules and their wording are shared: a value of
the wrong type, one that does not parse, or a null where training had none rejects its row;
a number far outside the training range is flagged (or rejects the row when
``out_of_range="refuse"``); an unseen category is flagged and scored as unknown.

Parquet columns carry types, checked as the server checks JSON types (a string where a
number is expected is the wrong type). CSV columns are text, parsed per kind.

>>> from forgeml.serve.inputs import InputSchema
>>> schema = InputSchema([{"name": "age", "kind": "integer", "nullable": False,
...                        "min": 18, "max": 90}])
>>> checked = ChunkChecker(schema, text=True).check(
...     pa.record_batch({"age": ["30", "x", "", "400"]}), np.arange(4))
>>> checked.keep.tolist(), checked.flags.to_pylist()
([True, False, False, True], [None, 'age:out_of_range'])
>>> checked.rejects.to_pylist()[0]
{'row': 1, 'column': 'age', 'reason': 'is not a number', 'value': 'x'}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.serve.batch_values import (
    as_text,
    is_text,
    mask,
    parse_booleans,
    parse_numbers,
    parse_timestamps,
    text_nulls,
    type_word,
)
from forgeml.serve.inputs import (
    EARLIEST,
    EXPECTED,
    LATEST,
    NULL_PROBLEM,
    NUMERIC,
    TIMESTAMP_PROBLEM,
    TIMESTAMP_RANGE_PROBLEM,
    InputSchema,
    range_problem,
)

__all__ = ["INFINITE_PROBLEM", "REJECTS_SCHEMA", "Checked", "ChunkChecker"]

REJECTS_SCHEMA = pa.schema(
    [("row", pa.int64()), ("column", pa.string()), ("reason", pa.string()), ("value", pa.string())]
)
_TARGET = {
    "integer": pa.float64(),
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "category": pa.large_string(),
    "text": pa.large_string(),
    "timestamp": pa.timestamp("us"),
}
INFINITE_PROBLEM = "is not a finite number"
_UNPARSED = {  # CSV text that does not parse as the column's kind
    "integer": "is not a number",
    "float": "is not a number",
    "boolean": "is not true or false",
}


@dataclass(frozen=True)
class Checked:
    """One checked chunk.

    ``inputs``: the model's input columns of the kept rows, typed for the feature pipeline.
    ``keep``: which rows of the chunk passed. ``flags``: per kept row, ``column:tag`` warnings
    joined by ``;`` (null when none). ``rejects``: one row per problem (:data:`REJECTS_SCHEMA`).
    ``reasons``: rejected rows per ``(column, reason)``.
    """

    inputs: pa.Table
    keep: np.ndarray
    flags: pa.Array
    rejects: pa.Table
    reasons: dict[tuple[str, str], int]

    def refuse(self, kept: np.ndarray, rejects: pa.Table) -> Checked:
        """This chunk without the kept rows at positions ``kept`` (rejected as ``rejects``)."""
        still = np.ones(self.inputs.num_rows, dtype=bool)
        still[kept] = False
        keep = self.keep.copy()
        keep[np.flatnonzero(self.keep)[kept]] = False
        reasons = dict(self.reasons)
        for column, reason in zip(
            rejects.column("column").to_pylist(), rejects.column("reason").to_pylist(), strict=True
        ):
            reasons[(column, reason)] = reasons.get((column, reason), 0) + 1
        merged = pa.concat_tables([self.rejects, rejects])
        order = np.argsort(merged.column("row").to_numpy(), kind="stable")
        return Checked(
            inputs=self.inputs.filter(pa.array(still)),
            keep=keep,
            flags=self.flags.filter(pa.array(still)),
            rejects=merged.take(pa.array(order)),
            reasons=reasons,
        )


class ChunkChecker:
    """Checks chunks of one file against one model version's input schema."""

    def __init__(
        self,
        schema: InputSchema,
        *,
        text: bool,
        timezones: Mapping[str, str | None] | None = None,
    ) -> None:
        self.schema = schema
        self.text = text
        self.timezones = dict(timezones or {})
        self._ranges = schema.ranges
        self._by_name = {str(c["name"]): c for c in schema.inputs}
        self._known = {
            name: pa.array(sorted(values), type=pa.large_string())
            for name, values in schema.categories.items()
        }

    def check(self, data: pa.RecordBatch, rows: np.ndarray) -> Checked:
        """Check every input column of ``data``; ``rows`` numbers its rows in the file."""
        count = data.num_rows
        problems: list[tuple[str, str, np.ndarray, pa.Array]] = []
        flags: list[tuple[str, np.ndarray]] = []
        columns: dict[str, pa.Array] = {}
        for name in self.schema.names:
            original = _decoded(data.column(name))
            values, bad = self._convert(name, original, problems)
            if name in self.schema.required:
                nulls = mask(pc.is_null(values)) & ~bad
                if nulls.any():
                    problems.append((name, NULL_PROBLEM, nulls, original))
                    bad |= nulls
            self._flag(name, values, bad, problems, flags, original)
            columns[name] = values
        keep = np.ones(count, dtype=bool)
        for _, _, where, _ in problems:
            keep &= ~where
        kept = pa.array(keep)
        inputs = pa.table({name: values.filter(kept) for name, values in columns.items()})
        return Checked(
            inputs=inputs,
            keep=keep,
            flags=_join_flags([(tag, where[keep]) for tag, where in flags], int(keep.sum())),
            rejects=_rejects(problems, rows),
            reasons={(name, reason): int(where.sum()) for name, reason, where, _ in problems},
        )

    def _convert(
        self, name: str, values: pa.Array, problems: list[tuple[str, str, np.ndarray, pa.Array]]
    ) -> tuple[pa.Array, np.ndarray]:
        """The column typed for the pipeline, and the rows that failed (already recorded)."""
        kind = self.schema.kinds[name]
        target = _TARGET.get(kind)
        none = np.zeros(len(values), dtype=bool)
        if target is None:  # no signature entry for this input: the pipeline checks it
            return values, none
        if pa.types.is_null(values.type):
            return pa.nulls(len(values), target), none
        source = values.type
        if self.text and is_text(source):
            values = text_nulls(values)
        converted: pa.Array | None = None
        bad = none
        reason = f"expected {EXPECTED[kind]}, got {type_word(source)}"
        if kind in NUMERIC:
            if type_word(source) == "number":
                floats = values.cast(pa.float64(), safe=False)
                converted = pc.if_else(pc.is_nan(floats), pa.scalar(None, pa.float64()), floats)
            elif self.text and is_text(source):
                converted, bad = parse_numbers(values)
                reason = _UNPARSED[kind]
        elif kind == "boolean":
            if pa.types.is_boolean(source):
                converted = values
            elif self.text and is_text(source):
                converted, bad = parse_booleans(values)
                reason = _UNPARSED[kind]
        elif kind in ("category", "text"):
            if is_text(source):
                converted = values.cast(target)
        elif pa.types.is_timestamp(source) or pa.types.is_date(source):
            converted = values  # typed timestamps go to the encoder as they are
        elif is_text(source):
            converted, bad = parse_timestamps(values, self.timezones.get(name))
            reason = TIMESTAMP_PROBLEM
        if converted is None:  # the wrong type: every value is refused
            bad = mask(pc.is_valid(values))
            converted = pa.nulls(len(values), target)
        if bad.any():
            problems.append((name, reason, bad, values))
        if kind == "timestamp":
            outside = _outside_calendar(converted) & ~bad
            if outside.any():
                problems.append((name, TIMESTAMP_RANGE_PROBLEM, outside, values))
                bad = bad | outside
        if kind in NUMERIC:
            infinite = mask(pc.is_inf(converted)) & ~bad
            if infinite.any():
                problems.append((name, INFINITE_PROBLEM, infinite, values))
                bad = bad | infinite
        return converted, bad.copy()

    def _flag(
        self,
        name: str,
        values: pa.Array,
        bad: np.ndarray,
        problems: list[tuple[str, str, np.ndarray, pa.Array]],
        flags: list[tuple[str, np.ndarray]],
        original: pa.Array,
    ) -> None:
        if name in self._ranges:
            low, high = self._ranges[name]
            numbers = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
            with np.errstate(invalid="ignore"):
                outside = ((numbers < low) | (numbers > high)) & ~bad
            if outside.any():
                if self.schema.out_of_range == "refuse":
                    problems.append((name, range_problem(self._by_name[name]), outside, original))
                else:
                    flags.append((f"{name}:out_of_range", outside))
        if name in self._known:
            seen = mask(pc.is_in(values, value_set=self._known[name]))
            unseen = mask(pc.is_valid(values)) & ~seen & ~bad
            if unseen.any():
                flags.append((f"{name}:unseen_category", unseen))


def _outside_calendar(values: pa.Array) -> np.ndarray:
    """Timestamps before 0001-01-02 or after 9999-12-30 (in UTC when zoned), as the server."""
    try:
        stamps = values.cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.zeros(len(values), dtype=bool)
    early = pc.less(stamps, pa.scalar(EARLIEST, pa.timestamp("us")))
    late = pc.greater(stamps, pa.scalar(LATEST, pa.timestamp("us")))
    return mask(pc.or_(early, late))


def _decoded(values: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)
    return values


def _join_flags(flags: list[tuple[str, np.ndarray]], count: int) -> pa.Array:
    none = pa.scalar(None, pa.string())
    joined = pa.nulls(count, pa.string())
    for tag, where in flags:
        part = pc.if_else(pa.array(where), pa.scalar(tag), none)
        both = pc.binary_join_element_wise(joined, part, ";")  # null unless both are set
        joined = pc.coalesce(both, joined, part)
    return joined


def _rejects(problems: list[tuple[str, str, np.ndarray, pa.Array]], rows: np.ndarray) -> pa.Table:
    if not problems:
        return REJECTS_SCHEMA.empty_table()
    parts = []
    for name, reason, where, values in problems:
        picked = np.flatnonzero(where)
        parts.append(
            pa.table(
                {
                    "row": pa.array(rows[picked], pa.int64()),
                    "column": pa.array([name] * len(picked), pa.string()),
                    "reason": pa.array([reason] * len(picked), pa.string()),
                    "value": as_text(values.take(pa.array(picked))),
                },
                schema=REJECTS_SCHEMA,
            )
        )
    table = pa.concat_tables(parts)
    order = np.argsort(table.column("row").to_numpy(), kind="stable")
    return table.take(pa.array(order))
