"""The row counts every column profile keeps, merged by addition.

``count`` is every row of the window; ``nulls`` the rows whose value is missing (null, or
NaN for numbers); ``absent`` the rows that came without the column at all; ``invalid`` the
rows whose column holds a type with no values of the column's kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

__all__ = ["ROW_COUNTS", "RowCounts"]

ROW_COUNTS = ("count", "nulls", "absent", "invalid")


@dataclass
class RowCounts:
    """The rows of one column over a window (the base of each kind's profile)."""

    count: int = 0
    nulls: int = 0
    absent: int = 0
    invalid: int = 0

    def _as_missing(self, rows: int, *, absent: bool) -> Self:
        """This empty profile, made the profile of ``rows`` rows without the column's values."""
        self.count = rows
        if absent:
            self.absent = rows
        else:
            self.invalid = rows
        return self

    def _rows(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ROW_COUNTS}

    def _rows_with(self, other: RowCounts) -> dict[str, int]:
        """The row counts of both windows together."""
        return {name: getattr(self, name) + getattr(other, name) for name in ROW_COUNTS}

    @staticmethod
    def _rows_from(data: Mapping[str, Any]) -> dict[str, int]:
        return {name: int(data[name]) for name in ROW_COUNTS}
