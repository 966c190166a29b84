"""Categorical columns (category, text, boolean): the reference's top categories and the
mergeable window state.

The reference keeps its ``top_k`` most frequent values (ties broken by value) as cells,
plus one cell "other" for everything else; booleans are the two values ``"false"`` and
``"true"``. It also keeps every value it saw (up to ``max_known`` distinct ones), so a
window can count values never seen in training, and the Good–Turing estimate of how often
unseen values appear by chance: the share of reference rows whose value occurs once.

A window keeps the count per cell, nulls, and unseen values: integers, merged exactly by
addition. Counting hashes each row once (``pyarrow.compute.value_counts``) and then works
on the distinct values only.

>>> bins = CategoryBins.fit(pa.chunked_array([["a", "a", "b", "c", None]]), top_k=2)
>>> bins.categories, bins.known, bins.unseen_rate
(('a', 'b'), ('a', 'b', 'c'), 0.5)
>>> window = CategoryProfile.of(pa.chunked_array([["b", "z", "c", None]]), bins)
>>> window.counts.tolist(), window.nulls, window.unseen
([0, 1, 2], 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.errors import DataError
from forgeml.monitor._rows import RowCounts

__all__ = ["MAX_KNOWN", "TOP_K", "CategoryBins", "CategoryProfile"]

TOP_K = 20
MAX_KNOWN = 10_000


@dataclass(frozen=True)
class CategoryBins:
    """The cells of one categorical reference column: top categories, then "other"."""

    categories: tuple[str, ...]
    known: tuple[str, ...] | None
    unseen_rate: float
    cutoff: float = 0.0
    """Reference share of the most frequent value left out of the top categories."""

    @classmethod
    def fit(
        cls, column: pa.ChunkedArray, *, top_k: int = TOP_K, max_known: int = MAX_KNOWN
    ) -> CategoryBins:
        """The ``top_k`` most frequent values of a string column, and its known values."""
        values, counts = _value_counts(column, ordered=True)
        order = np.lexsort((np.arange(len(counts)), -counts))  # count desc, then value asc
        present = int(counts.sum())
        singletons = int(np.count_nonzero(counts == 1))
        known = tuple(sorted(values.to_pylist())) if len(values) <= max_known else None
        top = pc.take(values, pa.array(order[:top_k])).to_pylist()
        cutoff = counts[order[top_k]] / present if len(order) > top_k else 0.0
        return cls(tuple(top), known, singletons / present if present else 1.0, float(cutoff))

    @property
    def size(self) -> int:
        """The number of cells: the categories, then "other"."""
        return len(self.categories) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "known": None if self.known is None else list(self.known),
            "unseen_rate": self.unseen_rate,
            "cutoff": self.cutoff,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoryBins:
        known = data["known"]
        return cls(
            tuple(data["categories"]),
            None if known is None else tuple(known),
            float(data["unseen_rate"]),
            float(data["cutoff"]),
        )


@dataclass
class CategoryProfile(RowCounts):
    """The mergeable state of one categorical column over a window."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    unseen: int | None = 0

    @classmethod
    def empty(cls, bins: CategoryBins) -> CategoryProfile:
        """The profile of no rows."""
        return cls(
            counts=np.zeros(bins.size, np.int64), unseen=0 if bins.known is not None else None
        )

    @classmethod
    def missing(cls, rows: int, bins: CategoryBins, *, absent: bool) -> CategoryProfile:
        """``rows`` rows whose column was absent (or of a type that holds no strings)."""
        return cls.empty(bins)._as_missing(rows, absent=absent)

    @classmethod
    def of(cls, column: pa.ChunkedArray, bins: CategoryBins) -> CategoryProfile:
        """Count a string column's values over the cells of ``bins``, vectorised."""
        values, counts = _value_counts(column)
        other = len(bins.categories)
        cells = pc.index_in(values, value_set=pa.array(bins.categories, values.type))
        cell = np.asarray(pc.fill_null(cells, other).to_numpy(zero_copy_only=False), np.int64)
        unseen = None
        if bins.known is not None:
            seen = pc.is_in(values, value_set=pa.array(bins.known, values.type))
            mask = ~np.asarray(seen.to_numpy(zero_copy_only=False), dtype=bool)
            unseen = int(counts[mask].sum())
        return cls(
            count=len(column),
            nulls=column.null_count,
            counts=np.bincount(cell, weights=counts, minlength=bins.size).astype(np.int64),
            unseen=unseen,
        )

    @property
    def present(self) -> int:
        """Non-null values counted in the cells."""
        return int(self.counts.sum())

    def merge(self, other: CategoryProfile) -> CategoryProfile:
        """The profile of both windows' rows together."""
        if self.counts.shape != other.counts.shape:
            raise DataError(
                "cannot merge categorical profiles with different categories",
                fix="merge only window profiles made against the same reference profile",
            )
        unseen = None if self.unseen is None or other.unseen is None else self.unseen + other.unseen
        return CategoryProfile(
            **self._rows_with(other),
            counts=self.counts + other.counts,
            unseen=unseen,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._rows(),
            "counts": self.counts.tolist(),
            "unseen": self.unseen,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoryProfile:
        unseen = data["unseen"]
        return cls(
            **cls._rows_from(data),
            counts=np.asarray(data["counts"], dtype=np.int64),
            unseen=None if unseen is None else int(unseen),
        )


def _value_counts(column: pa.ChunkedArray, *, ordered: bool = False) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values (plain strings; sorted if ``ordered``) and their counts."""
    if pa.types.is_null(column.type):
        return pa.array([], pa.string()), np.zeros(0, np.int64)
    found = pc.value_counts(column)
    values, counts = found.field("values"), found.field("counts")
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    keep = values.is_valid()
    values, counts = values.filter(keep), counts.filter(keep)
    if ordered:
        order = pc.sort_indices(values)
        values, counts = values.take(order), counts.take(order)
    return values, np.asarray(counts.to_numpy(), dtype=np.int64)
