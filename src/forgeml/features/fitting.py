"""Fit-time planning: read the schema, check the options, fit one encoder per column.

>>> columns = schema_columns({"columns": [
...     {"name": "at", "kind": "timestamp", "type": "timestamp[us, tz=Europe/Oslo]"}]})
>>> columns
[SchemaColumn(name='at', kind='timestamp', timezone='Europe/Oslo')]
>>> fit_column(columns[0], {"at": [None]}, "tree", 50)
'no values in the fit data'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forgeml.errors import ConfigError
from forgeml.features.categories import CategoryEncoder, category_order
from forgeml.features.columns import read_column
from forgeml.features.encoders import STRATEGIES, BooleanEncoder, Encoder, NumberEncoder, Strategy
from forgeml.features.timestamps import TimestampEncoder

__all__ = ["KINDS", "SchemaColumn", "check_names", "check_options", "fit_column", "schema_columns"]

KINDS = ("integer", "float", "boolean", "timestamp", "category", "text", "empty")
_TIMEZONE = re.compile(r"tz=([^\]]+)\]$")
_SCHEMA_FIX = "pass the schema stored with the dataset version (DatasetVersion.schema)"


@dataclass(frozen=True)
class SchemaColumn:
    """One schema column as fitting needs it: name, kind and timezone (timestamps)."""

    name: str
    kind: str
    timezone: str | None


def fit_column(
    column: SchemaColumn, data: Any, strategy: Strategy, max_categories: int
) -> Encoder | str:
    """The fitted encoder of one column, or the reason it is dropped."""
    values = read_column(data, column.name)
    fitted: Encoder | None
    if column.kind in ("integer", "float"):
        fitted = NumberEncoder.fit(column.name, values, strategy=strategy)
    elif column.kind == "boolean":
        fitted = BooleanEncoder.fit(column.name, values, strategy=strategy)
    elif column.kind == "timestamp":
        fitted = TimestampEncoder.fit(
            column.name, values, strategy=strategy, timezone=column.timezone
        )
    else:
        order = category_order(column.name, values)
        if column.kind == "text" and len(order) > max_categories:
            return (
                f"text with {len(order)} distinct values "
                f"(more than max_categories={max_categories})"
            )
        fitted = CategoryEncoder.from_order(column.name, order, strategy, max_categories)
    return fitted if fitted is not None else "no values in the fit data"


def schema_columns(schema: Mapping[str, Any]) -> list[SchemaColumn]:
    """The columns of a stored schema, in order; a malformed schema is a ConfigError."""
    entries = schema.get("columns") if isinstance(schema, Mapping) else None
    if not isinstance(entries, list):
        raise ConfigError("the schema has no list of 'columns'", fix=_SCHEMA_FIX)
    columns = []
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        kind = entry.get("kind") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or kind not in KINDS:
            raise ConfigError(
                f"schema column {i} needs a 'name' and a 'kind' (one of {', '.join(KINDS)}), "
                f"got {entry!r:.80}",
                fix=_SCHEMA_FIX,
            )
        found = _TIMEZONE.search(str(entry.get("type") or ""))
        columns.append(SchemaColumn(name, kind, found.group(1) if found else None))
    return columns


def check_options(strategy: Any, max_categories: Any, exclude: Any) -> None:
    """Refuse an unknown strategy, a non-positive max_categories, or a bare string exclude."""
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"strategy must be 'tree' or 'linear', not {strategy!r}",
            fix="use 'tree' for gradient-boosted trees, 'linear' for linear models and networks",
        )
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or max_categories < 1
    ):
        raise ConfigError(
            f"max_categories must be a positive integer, not {max_categories!r}",
            fix="pass e.g. max_categories=50",
        )
    if isinstance(exclude, str) or not all(isinstance(name, str) for name in exclude):
        raise ConfigError(
            f"exclude must be a list of column names, not {exclude!r:.60}",
            fix="pass e.g. exclude=['customer_id']",
        )


def check_names(columns: list[SchemaColumn], target: str | None, exclude: Sequence[str]) -> None:
    """Refuse a target or excluded column the schema does not have (a typo, usually)."""
    known = {c.name for c in columns}
    named = ([target] if target is not None else []) + list(exclude)
    unknown = [name for name in named if name not in known]
    if unknown:
        raise ConfigError(
            f"{', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not a "
            "column of the schema",
            fix=f"check target and exclude; the schema's columns are: {', '.join(sorted(known))}",
        )
