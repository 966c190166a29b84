"""Categorical columns: ordinal codes for trees, one-hot columns for linear models.

Categories are ordered by descending fit frequency, then by name. The first
``max_categories`` are kept; the other categories seen at fit time share one "other" code
(tree) or no column (linear). A value never seen at fit time, or a missing one, is NaN
(tree) or all zeros (linear).

>>> enc = CategoryEncoder.fit("plan", ["pro", "basic", "pro", "free", None],
...                           strategy="tree", max_categories=2)
>>> enc.categories, enc.other
(('pro', 'basic'), ('free',))
>>> out = np.empty((5, 1))
>>> enc.encode(["basic", "pro", "free", "gold", None], out)
>>> out.ravel().tolist()
[1.0, 0.0, 2.0, nan, nan]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.features.columns import as_strings
from forgeml.features.encoders import Encoder, Strategy
from forgeml.features.fields import Fields, invalid

__all__ = ["CategoryEncoder", "category_order"]

UNSEEN = -1
MISSING = -2
ENCODINGS = ("ordinal", "one_hot")


def category_order(column: str, values: Any) -> list[str]:
    """Distinct non-missing values, by descending frequency, then by name.

    >>> category_order("city", ["Rome", "Oslo", None, "Rome", "Bergen", "Oslo"])
    ['Oslo', 'Rome', 'Bergen']
    """
    strings = as_strings(column, values)
    if isinstance(strings, list):
        strings = pa.array(strings, type=pa.large_string())
    counts = pc.value_counts(strings.drop_null())
    table = pa.table({"count": counts.field("counts"), "value": counts.field("values")})
    order = pc.sort_indices(table, sort_keys=[("count", "descending"), ("value", "ascending")])
    return [str(v) for v in pc.take(table.column("value"), order).to_pylist()]


@dataclass(frozen=True)
class CategoryEncoder(Encoder):
    """A category column, or a text column with few distinct values."""

    tag: ClassVar[str] = "category"
    column: str
    encoding: str
    categories: tuple[str, ...]
    other: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls, column: str, values: Any, *, strategy: Strategy, max_categories: int
    ) -> CategoryEncoder | None:
        """Fit on the column's values; None when it has no values to learn from."""
        return cls.from_order(column, category_order(column, values), strategy, max_categories)

    @classmethod
    def from_order(
        cls, column: str, order: list[str], strategy: Strategy, max_categories: int
    ) -> CategoryEncoder | None:
        """The encoder for categories already in :func:`category_order`."""
        if not order:
            return None
        encoding = "ordinal" if strategy == "tree" else "one_hot"
        return cls(
            column,
            encoding,
            tuple(order[:max_categories]),
            tuple(order[max_categories:]),
        )

    @property
    def feature_names(self) -> list[str]:
        if self.encoding == "ordinal":
            return [self.column]
        return [f"{self.column}={category}" for category in self.categories]

    def encode(self, values: Any, out: np.ndarray) -> None:
        codes = self.codes(values)
        kept = len(self.categories)
        if self.encoding == "ordinal":
            out[:, 0] = np.where(codes >= 0, np.minimum(codes, kept), np.nan)
            return
        out[:] = 0.0
        rows = np.flatnonzero((codes >= 0) & (codes < kept))
        out[rows, codes[rows]] = 1.0

    def codes(self, values: Any) -> np.ndarray:
        """Per row: the index among the fit categories (kept, then other); -1 unseen, -2 missing."""
        strings = as_strings(self.column, values)
        if isinstance(strings, list):
            lookup = self._lookup.get
            return np.fromiter(map(lookup, strings, repeat(UNSEEN)), np.int64, len(strings))
        index = pc.index_in(strings, value_set=self._value_set)
        codes = np.array(pc.fill_null(index, UNSEEN).to_numpy(zero_copy_only=False), np.int64)
        codes[np.asarray(pc.is_null(strings).to_numpy(zero_copy_only=False), bool)] = MISSING
        return codes

    def unknown(self, values: Any) -> int:
        """How many values were never seen at fit time (missing values excluded)."""
        return int(np.count_nonzero(self.codes(values) == UNSEEN))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.tag,
            "column": self.column,
            "encoding": self.encoding,
            "categories": list(self.categories),
            "other": list(self.other),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> CategoryEncoder:
        encoding = fields.text("encoding")
        if encoding not in ENCODINGS:
            raise invalid(
                f"feature pipeline field '{fields.where('encoding')}' must be one of "
                f"{', '.join(ENCODINGS)}, not {encoding!r}"
            )
        categories, other = fields.strings("categories"), fields.strings("other")
        if len(set(categories + other)) != len(categories) + len(other):
            raise invalid(
                f"feature pipeline fields '{fields.where('categories')}' and "
                f"'{fields.where('other')}' must not repeat a category"
            )
        return cls(fields.text("column"), encoding, tuple(categories), tuple(other))

    @cached_property
    def _lookup(self) -> dict[str | None, int]:
        return {None: MISSING} | {value: i for i, value in enumerate(self.categories + self.other)}

    @cached_property
    def _value_set(self) -> pa.Array:
        return pa.array(list(self.categories + self.other), type=pa.large_string())
