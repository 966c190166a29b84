"""Request payloads checked against a model version's input signature.

A payload is one record (a JSON object), a list of records, ``{"records": [...]}`` or
columnar ``{"columns": {"age": [...], ...}}``. :meth:`InputSchema.read` turns any of them
into columns (one list per input, one value per row) and checks, before the model runs:

- every input column is present, and no other field is unless it is declared as a
  passthrough field (refused: 422); passthrough values (ids, timestamps) must be JSON
  scalars and are returned in :attr:`Batch.passthrough`, not given to the model;
- each value has the type the column was trained on, null only where training saw nulls
  (refused: 422);
- numbers far outside the training range (flagged; refused when ``out_of_range="refuse"``);
- categories never seen in training (flagged; they are scored as unknown).

Problems name the field, the row and the expected type, never the value that was sent.
All numeric columns are read into one float64 block with a single NumPy call, so a
one-record request costs microseconds.

>>> schema = InputSchema([{"name": "age", "kind": "integer", "nullable": False,
...                        "min": 18, "max": 90},
...                       {"name": "plan", "kind": "category", "nullable": True,
...                        "categories": ["basic", "pro"]}])
>>> batch = schema.read({"age": 30, "plan": "gold"})
>>> batch.rows, batch.numbers.tolist(), batch.columns["plan"], batch.flags
(1, [[30.0]], ['gold'], ['plan:unseen_category'])
>>> schema.read({"age": "30", "plan": None})
Traceback (most recent call last):
...
forgeml.errors.InputRejected: invalid input: age: expected a number, got string
  fix: send every input column with the type the model was trained on (GET /model lists them)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from forgeml.errors import InputRejected

__all__ = [
    "EARLIEST",
    "EXPECTED",
    "LATEST",
    "NULL_PROBLEM",
    "TIMESTAMP_PROBLEM",
    "TIMESTAMP_RANGE_PROBLEM",
    "UNSEEN_PROBLEM",
    "Batch",
    "InputSchema",
    "OutOfRange",
    "range_bounds",
    "range_problem",
    "timestamp_problem",
]

OutOfRange = Literal["flag", "refuse"]
NUMERIC = ("integer", "float")
EXPECTED = {
    "integer": "a number",
    "float": "a number",
    "boolean": "true or false",
    "category": "a string",
    "text": "a string",
    "timestamp": "an ISO 8601 timestamp string",
}
NULL_PROBLEM = "is null, but the training data had no missing values here"
TIMESTAMP_PROBLEM = "is not an ISO 8601 timestamp"
EARLIEST, LATEST = datetime(1, 1, 2), datetime(9999, 12, 30, 23, 59, 59, 999999)
TIMESTAMP_RANGE_PROBLEM = "is outside the supported range 0001-01-02 to 9999-12-30"
UNSEEN_PROBLEM = "a category never seen in training (scored as unknown)"
EXTRA_PROBLEM = (
    "is not an input of this model (to send it along to the log and the reply, "
    "list it under serve.passthrough in forgeml.yaml)"
)
_SCALARS = frozenset({str, int, float, bool, type(None)})
_NUMBER_TYPES = frozenset({int, float, type(None)})
_ALLOWED = {
    "integer": _NUMBER_TYPES,
    "float": _NUMBER_TYPES,
    "boolean": frozenset({bool, type(None)}),
    "category": frozenset({str, type(None)}),
    "text": frozenset({str, type(None)}),
    "timestamp": frozenset({str, type(None)}),
}
_JSON_TYPE = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


@dataclass(frozen=True)
class Batch:
    """Validated rows: ``columns`` (one list per input), ``numbers`` and ``flags``.

    ``numbers`` holds the numeric inputs (``InputSchema.numeric`` order) as a float64
    block of shape (rows, numeric columns), NaN for null. ``flags`` are warnings such as
    ``income:out_of_range`` or ``region:unseen_category``.
    """

    rows: int
    columns: dict[str, list[Any]]
    numbers: np.ndarray
    flags: list[str]
    problems: list[dict[str, Any]]
    passthrough: dict[str, list[Any]] = field(default_factory=dict)
    """Declared passthrough fields sent with the rows, one value per row (null if absent)."""


class LoggedInputs(Mapping[str, Any]):
    """A batch's inputs as the prediction log reads them, without copying per request.

    Numeric columns are views of the float64 block, made only when the log's writer asks
    for them; the other columns are the request's lists. Keeping one of these until the
    next write costs one object instead of a list per column.
    """

    __slots__ = ("_numbers", "_others", "_positions")

    def __init__(
        self, numbers: np.ndarray, positions: Mapping[str, int], others: dict[str, list[Any]]
    ) -> None:
        self._numbers = numbers
        self._positions = positions
        self._others = others

    @property
    def rows(self) -> int:
        return len(self._numbers)

    @property
    def numbers(self) -> np.ndarray:
        """The numeric inputs, one column per entry of :attr:`positions`."""
        return self._numbers

    @property
    def positions(self) -> Mapping[str, int]:
        """Numeric column name -> its column in :attr:`numbers` (shared by a schema's batches)."""
        return self._positions

    def __getitem__(self, name: str) -> Any:
        j = self._positions.get(name)
        return self._others[name] if j is None else self._numbers[:, j]

    def __iter__(self) -> Iterator[str]:
        yield from self._positions
        yield from self._others

    def __len__(self) -> int:
        return len(self._positions) + len(self._others)


class InputSchema:
    """The checks for one signature; build once per model version, reuse per request."""

    def __init__(
        self,
        inputs: Sequence[Mapping[str, Any]],
        *,
        out_of_range: OutOfRange = "flag",
        range_tolerance: float = 0.5,
        max_rows: int = 10_000,
        passthrough: Sequence[str] = (),
    ) -> None:
        self.inputs = [dict(c) for c in inputs]
        self.names = [str(c["name"]) for c in self.inputs]
        self.name_set = frozenset(self.names)
        self.passthrough = [n for n in dict.fromkeys(passthrough) if n not in self.name_set]
        self.accepted = self.name_set | frozenset(self.passthrough)
        self.kinds = {str(c["name"]): str(c.get("kind", "")) for c in self.inputs}
        self.numeric = [n for n in self.names if self.kinds[n] in NUMERIC]
        self.booleans = [n for n in self.names if self.kinds[n] == "boolean"]
        self.required = frozenset(str(c["name"]) for c in self.inputs if not c.get("nullable"))
        self.out_of_range = out_of_range
        self.max_rows = max_rows
        self._others = [n for n in self.names if self.kinds[n] not in NUMERIC]
        self._positions = {name: j for j, name in enumerate(self.numeric)}
        lows, highs = [], []
        for name in self.numeric:
            column = next(c for c in self.inputs if c["name"] == name)
            low, high = range_bounds(column, range_tolerance)
            lows.append(low)
            highs.append(high)
        self._lows = np.array(lows, dtype=np.float64)
        self._highs = np.array(highs, dtype=np.float64)
        self._categories = {
            str(c["name"]): frozenset(str(v) for v in c["categories"])
            for c in self.inputs
            if c.get("kind") == "category" and c.get("categories")
        }
        self._numeric_required = [n in self.required for n in self.numeric]

    @property
    def ranges(self) -> dict[str, tuple[float, float]]:
        """Per numeric input, the (low, high) bounds outside which a value is out of range."""
        return {
            name: (float(low), float(high))
            for name, low, high in zip(self.numeric, self._lows, self._highs, strict=True)
        }

    @property
    def categories(self) -> dict[str, frozenset[str]]:
        """Per categorical input with a known category list, the categories seen in training."""
        return dict(self._categories)

    def loggable(self, batch: Batch) -> LoggedInputs:
        """The batch's inputs for the prediction log (see :class:`LoggedInputs`)."""
        others = {name: batch.columns[name] for name in self._others}
        for name, values in batch.passthrough.items():
            others[name] = [_as_text(v) for v in values]
        return LoggedInputs(batch.numbers, self._positions, others)

    def read(self, payload: Any, *, columnar: bool = False) -> Batch:
        """Columns of a decoded JSON payload; :class:`InputRejected` lists what is wrong.

        With ``columnar`` the payload is already one array per column (what the protocol
        adapters of :mod:`forgeml.serve.protocols` write), whatever the inputs are named.
        """
        problems: list[dict[str, Any]] = []
        extras: dict[str, list[Any]] = {}
        if columnar:
            columns = self._columnar(payload, problems, extras)
        else:
            columns = self._columns(payload, problems, extras)
        if problems:
            raise InputRejected(problems)
        rows = len(columns[self.names[0]]) if self.names else _record_count(payload)
        if rows == 0:
            raise InputRejected([{"field": "(payload)", "problem": "holds no rows"}])
        if rows > self.max_rows:
            raise InputRejected(
                [
                    {
                        "field": "(payload)",
                        "problem": f"holds {rows} rows, more than the limit of {self.max_rows}",
                    }
                ],
                status=413,
            )
        numbers = self._numbers(columns, rows, problems)
        for name in self._others:
            self._check(name, columns[name], problems)
        if problems:
            raise InputRejected(problems)
        flags = self._flags(columns, numbers)
        if self.out_of_range == "refuse":
            refused = [_public(p) for p in flags if p["tag"] == "out_of_range"]
            if refused:
                raise InputRejected(refused)
        tags = [f"{p['field']}:{p['tag']}" for p in flags]
        return Batch(rows, columns, numbers, tags, [_public(p) for p in flags], extras)

    def _columns(
        self, payload: Any, problems: list[dict[str, Any]], extras: dict[str, list[Any]]
    ) -> dict[str, list[Any]]:
        if isinstance(payload, Mapping):
            if "columns" in payload and "columns" not in self.accepted:
                return self._columnar(payload["columns"], problems, extras)
            if "records" in payload and "records" not in self.accepted:
                return self._records(payload["records"], problems, extras)
            if payload.keys() == self.name_set:  # the common case: one complete record
                return {name: [payload[name]] for name in self.names}
            return self._records([payload], problems, extras)
        if isinstance(payload, list):
            return self._records(payload, problems, extras)
        problems.append(
            {
                "field": "(payload)",
                "problem": f"is a JSON {_json_type(payload)}; expected an object (one record), "
                'an array of records, {"records": [...]} or {"columns": {...}}',
            }
        )
        return {}

    def _records(
        self, records: Any, problems: list[dict[str, Any]], extras: dict[str, list[Any]]
    ) -> dict[str, list[Any]]:
        if not isinstance(records, list):
            problems.append({"field": "records", "problem": "must be an array of objects"})
            return {}
        expected, accepted = self.name_set, self.accepted
        extra = False
        for row, record in enumerate(records):
            if not isinstance(record, dict):
                problems.append({"field": "(record)", "row": row, "problem": "must be an object"})
            elif record.keys() != expected:
                keys = record.keys()
                if expected <= keys <= accepted:
                    extra = True
                else:
                    self._fields(keys, problems, row)
        if problems:
            return {}
        if extra:
            for name in self.passthrough:
                values = [record.get(name) for record in records]
                if any(v is not None for v in values):
                    extras[name] = values
            self._check_passthrough(extras, problems)
        return {name: [record[name] for record in records] for name in self.names}

    def _columnar(
        self, columns: Any, problems: list[dict[str, Any]], extras: dict[str, list[Any]]
    ) -> dict[str, list[Any]]:
        if not isinstance(columns, dict):
            problems.append({"field": "columns", "problem": "must be an object of arrays"})
            return {}
        if columns.keys() == self.name_set:  # the common case: every input, nothing else
            values = columns.values()
            if all(type(v) is list for v in values) and len(set(map(len, values))) == 1:
                return columns
        if columns.keys() != self.name_set and not (
            self.name_set <= columns.keys() <= self.accepted
        ):
            self._fields(columns.keys(), problems, None)
        for name in [*self.names, *(n for n in self.passthrough if n in columns)]:
            if name in columns and not isinstance(columns[name], list):
                problems.append({"field": name, "problem": "must be an array, one value per row"})
        if problems:
            return {}
        lengths = {len(columns[name]) for name in self.names}
        lengths |= {len(columns[name]) for name in self.passthrough if name in columns}
        if len(lengths) > 1:
            problems.append(
                {
                    "field": "columns",
                    "problem": f"arrays have different lengths ({min(lengths)} to {max(lengths)})",
                }
            )
            return {}
        extras.update({name: columns[name] for name in self.passthrough if name in columns})
        self._check_passthrough(extras, problems)
        return {name: columns[name] for name in self.names}

    def _fields(self, keys: Any, problems: list[dict[str, Any]], row: int | None) -> None:
        where = {} if row is None else {"row": row}
        for name in self.names:
            if name not in keys:
                expected = EXPECTED.get(self.kinds[name], "a value")
                problems.append(
                    {"field": name, **where, "problem": "is missing", "expected": expected}
                )
        for key in keys:
            if key not in self.accepted:
                problems.append(
                    {
                        "field": _short(str(key)),
                        **where,
                        "problem": EXTRA_PROBLEM,
                    }
                )

    def _check_passthrough(
        self, extras: dict[str, list[Any]], problems: list[dict[str, Any]]
    ) -> None:
        for name, values in extras.items():
            for row, value in enumerate(values):
                if type(value) not in _SCALARS:
                    problems.append(
                        {
                            "field": name,
                            "row": row,
                            "problem": f"expected a string, number, boolean or null, got "
                            f"{_json_type(value)}",
                            "expected": "a string, number, boolean or null",
                        }
                    )

    def _numbers(
        self, columns: dict[str, list[Any]], rows: int, problems: list[dict[str, Any]]
    ) -> np.ndarray:
        if not self.numeric:
            return np.empty((rows, 0), dtype=np.float64)
        values = [columns[name] for name in self.numeric]
        seen = {type(v) for column in values for v in column}
        if not seen <= _NUMBER_TYPES:
            for name in self.numeric:
                self._check(name, columns[name], problems)
            return np.empty((rows, 0), dtype=np.float64)
        try:
            block = np.array(values, dtype=np.float64).T
        except OverflowError:
            problems.append({"field": "(numbers)", "problem": "a number is too large"})
            return np.empty((rows, 0), dtype=np.float64)
        if type(None) in seen:
            missing = np.isnan(block)
            for j, name in enumerate(self.numeric):
                if self._numeric_required[j] and missing[:, j].any():
                    for row in np.flatnonzero(missing[:, j]).tolist():
                        problems.append(_null(name, row, self.kinds[name]))
        return np.ascontiguousarray(block)

    def _check(self, name: str, values: list[Any], problems: list[dict[str, Any]]) -> None:
        kind = self.kinds[name]
        allowed = _ALLOWED.get(kind)
        if allowed is None:
            return
        for row, value in enumerate(values):
            kind_of = type(value)
            if kind_of not in allowed:
                problems.append(
                    {
                        "field": name,
                        "row": row,
                        "problem": f"expected {EXPECTED[kind]}, got {_json_type(value)}",
                        "expected": EXPECTED[kind],
                    }
                )
            elif value is None:
                if name in self.required:
                    problems.append(_null(name, row, kind))
            elif kind == "timestamp":
                wrong = timestamp_problem(value)
                if wrong is not None:
                    problems.append(
                        {"field": name, "row": row, "problem": wrong, "expected": EXPECTED[kind]}
                    )

    def _flags(self, columns: dict[str, list[Any]], numbers: np.ndarray) -> list[dict[str, Any]]:
        flags: list[dict[str, Any]] = []
        if numbers.shape[1]:
            with np.errstate(invalid="ignore"):
                outside = (numbers < self._lows) | (numbers > self._highs)
            if outside.any():
                for j in np.flatnonzero(outside.any(axis=0)):
                    name = self.numeric[int(j)]
                    column = next(c for c in self.inputs if c["name"] == name)
                    flags.append(
                        {
                            "field": name,
                            "rows": int(outside[:, j].sum()),
                            "tag": "out_of_range",
                            "problem": range_problem(column),
                        }
                    )
        for name, known in self._categories.items():
            unseen = sum(1 for v in columns[name] if v is not None and v not in known)
            if unseen:
                flags.append(
                    {
                        "field": name,
                        "rows": unseen,
                        "tag": "unseen_category",
                        "problem": UNSEEN_PROBLEM,
                    }
                )
        return flags


def range_bounds(column: Mapping[str, Any], tolerance: float = 0.5) -> tuple[float, float]:
    """The bounds of a numeric input: its training range widened by ``tolerance`` × its span.

    >>> range_bounds({"name": "age", "min": 18, "max": 90})
    (-18.0, 126.0)
    >>> range_bounds({"name": "debt", "min": 0})
    (0.0, inf)
    """
    low, high = _number(column.get("min")), _number(column.get("max"))
    span = (high - low) if low is not None and high is not None else 0.0
    return (
        -math.inf if low is None else low - tolerance * span,
        math.inf if high is None else high + tolerance * span,
    )


def range_problem(column: Mapping[str, Any]) -> str:
    """How an out-of-range value of ``column`` is described.

    >>> range_problem({"name": "age", "min": 18, "max": 90})
    'out of the training range [18, 90]'
    """
    return f"out of the training range [{column.get('min')}, {column.get('max')}]"


def _public(flag: dict[str, Any]) -> dict[str, Any]:
    return {"field": flag["field"], "rows": flag["rows"], "problem": flag["problem"]}


def _null(name: str, row: int, kind: str) -> dict[str, Any]:
    return {
        "field": name,
        "row": row,
        "problem": NULL_PROBLEM,
        "expected": EXPECTED.get(kind, "a value"),
    }


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def timestamp_problem(value: str) -> str | None:
    """What is wrong with a timestamp string, or None when the model can read it.

    Accepted: ISO 8601 (:meth:`datetime.fromisoformat`) between 0001-01-02 and 9999-12-30,
    in UTC when it carries an offset, so that converting it to any time zone stays within
    the calendar's range.

    >>> timestamp_problem("2024-01-05T10:30:00+01:00") is None
    True
    >>> timestamp_problem("0001-01-01T00:00:00+01:00")
    'is outside the supported range 0001-01-02 to 9999-12-30'
    """
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return TIMESTAMP_PROBLEM
    try:
        if stamp.utcoffset() is not None:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return TIMESTAMP_RANGE_PROBLEM
    if not EARLIEST <= stamp <= LATEST:
        return TIMESTAMP_RANGE_PROBLEM
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _record_count(payload: Any) -> int:
    return len(payload) if isinstance(payload, list) else 1


def _short(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
