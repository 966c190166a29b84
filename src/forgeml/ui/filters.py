"""The runs page's filter language, parsed into SQL expressions (never into SQL text).

A filter is conditions joined by ``and`` (or ``or``; ``and`` binds tighter)::

    metrics.roc_auc > 0.8 and params.candidate = 'lightgbm'

A condition is ``FIELD OP VALUE``: FIELD is ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` or
one of the run's own columns (``status``, ``experiment``, ``kind``, ``id``); OP is one of
``= != < <= > >=`` (``==`` and ``<>`` also work); VALUE a number or a quoted string. A
number never matches a text value. Keys and values reach the database as bound parameters
only.

>>> parse_filter("metrics.roc_auc > 0.8 and params.candidate = 'lightgbm'")
[[Condition(section='metrics', key='roc_auc', op='>', value=0.8), \
Condition(section='params', key='candidate', op='=', value='lightgbm')]]
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_

from forgeml.errors import ConfigError
from forgeml.store.models import RunRecord

__all__ = ["Condition", "column_value", "parse_filter", "parse_key", "to_sql"]

SECTIONS = ("metrics", "params", "tags")
ATTRIBUTES = {
    "status": RunRecord.status,
    "experiment": RunRecord.experiment,
    "kind": RunRecord.kind,
    "id": RunRecord.id,
}
KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/\-]{0,199}")
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
    |(?P<op>!=|<>|<=|>=|==|=|<|>)
    |(?P<word>[A-Za-z_][A-Za-z0-9_.:/\-]*)
    )""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FIX = "write e.g. metrics.roc_auc > 0.8 and params.candidate = 'lightgbm'"


@dataclass(frozen=True)
class Condition:
    section: str  # metrics | params | tags | attribute
    key: str
    op: str
    value: float | str


def parse_key(text: str) -> tuple[str, str]:
    """``metrics.roc_auc`` -> ("metrics", "roc_auc"); a run column -> ("attribute", name)."""
    if text in ATTRIBUTES:
        return "attribute", text
    section, _, key = text.partition(".")
    if section not in SECTIONS or not KEY.fullmatch(key):
        raise ConfigError(
            f"{text!r} is not a run field",
            fix="use metrics.KEY, params.KEY, tags.KEY, status, experiment, kind or id",
        )
    return section, key


def parse_filter(text: str) -> list[list[Condition]]:
    """The filter as alternatives (``or``) of conjunctions (``and``) of conditions."""
    tokens = _tokens(text)
    groups: list[list[Condition]] = [[]]
    position = 0
    while True:
        if position + 3 > len(tokens):
            raise ConfigError(f"the filter {text!r} ends too early", fix=_FIX)
        (kind_f, field), (kind_o, op), (kind_v, raw) = tokens[position : position + 3]
        if kind_f != "word" or kind_o != "op" or kind_v not in ("string", "number"):
            raise ConfigError(f"the filter {text!r} is not FIELD OP VALUE near {field!r}", fix=_FIX)
        section, key = parse_key(field)
        op = {"==": "=", "<>": "!="}.get(op, op)
        value: float | str = float(raw) if kind_v == "number" else _unquote(raw)
        groups[-1].append(Condition(section, key, op, value))
        position += 3
        if position == len(tokens):
            return groups
        kind_j, joiner = tokens[position]
        if kind_j != "word" or joiner.lower() not in ("and", "or"):
            raise ConfigError(
                f"the filter {text!r} has {joiner!r} where 'and' or 'or' belongs", fix=_FIX
            )
        if joiner.lower() == "or":
            groups.append([])
        position += 1


def to_sql(groups: list[list[Condition]], dialect: str) -> ColumnElement[bool]:
    """The WHERE clause of a parsed filter."""
    return or_(*(and_(*(_condition(c, dialect) for c in group)) for group in groups))


def column_value(section: str, key: str, dialect: str, *, numeric: bool) -> ColumnElement[Any]:
    """A run field as a number (NULL when it is not one) or as text."""
    if section == "attribute":
        return ATTRIBUTES[key].expression
    document = getattr(RunRecord, section)
    if not numeric:
        as_text: ColumnElement[Any] = document[key].as_string()
        return as_text
    if dialect == "postgresql":
        kind = func.jsonb_typeof(document[key])
        is_number = kind == "number"
    else:
        kind = func.json_type(document, func.printf('$."%s"', key))
        is_number = kind.in_(("integer", "real"))
    number: ColumnElement[Any] = case((is_number, document[key].as_float()), else_=None)
    return number


def _condition(condition: Condition, dialect: str) -> ColumnElement[bool]:
    compare = _OPS[condition.op]
    if condition.section == "attribute":
        if isinstance(condition.value, float):
            return false()  # run columns are text
        return compare(ATTRIBUTES[condition.key], condition.value)  # type: ignore[no-any-return]
    numeric = isinstance(condition.value, float)
    value = column_value(condition.section, condition.key, dialect, numeric=numeric)
    return compare(value, condition.value)  # type: ignore[no-any-return]


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ConfigError(
                f"the filter {text!r} has an unexpected character at position {position + 1}",
                fix=_FIX,
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    if not tokens:
        raise ConfigError("the filter is empty", fix=_FIX)
    return tokens


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])
