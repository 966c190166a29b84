"""Window profiles: what a window of rows looks like, over the reference's bins.

A :class:`WindowProfile` holds, per reference column, a
:class:`~forgeml.monitor.numeric.NumericProfile` or a
:class:`~forgeml.monitor.categorical.CategoryProfile`; for the model's score (when the
reference has one) a numeric profile of the prediction log's ``score`` column; and the
count of each validation flag the server wrote in the log's ``flags`` column
(``income:out_of_range``, ``region:unseen_category``). Profiles of disjoint windows merge
by addition, so hourly profiles stored once add up to any longer window without reading
the rows again.

A reference column missing from the window counts its rows as ``absent``; a column of a
type that cannot hold the reference's values (text where numbers belong) as ``invalid``.
Columns are profiled on a thread pool (NumPy and Arrow release the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from forgeml.errors import DataError
from forgeml.monitor._columns import Source, numbers, strings
from forgeml.monitor.categorical import CategoryBins, CategoryProfile
from forgeml.monitor.numeric import KEEP_VALUES, NumericBins, NumericProfile

if TYPE_CHECKING:
    from forgeml.monitor.reference import ReferenceProfile

__all__ = [
    "FLAGS_COLUMN",
    "SCORE_COLUMN",
    "ColumnProfile",
    "WindowProfile",
    "column_profile",
    "merge_profiles",
    "profile_window",
]

ColumnProfile = NumericProfile | CategoryProfile
Bins = NumericBins | CategoryBins
SCORE_COLUMN = "score"
FLAGS_COLUMN = "flags"
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class WindowProfile:
    """Per-column state of a window of rows, made against one reference profile.

    ``reference`` is the id of that reference profile: only profiles with the same id
    merge or compare.
    """

    reference: str
    rows: int
    columns: dict[str, ColumnProfile]
    prediction: NumericProfile | None = None
    flags: dict[str, int] = field(default_factory=dict)
    keep_values: int = KEEP_VALUES

    def merge(self, other: WindowProfile) -> WindowProfile:
        """The profile of both windows' rows together (exact for every count)."""
        if other.reference != self.reference or other.columns.keys() != self.columns.keys():
            raise DataError(
                f"cannot merge window profiles of different references "
                f"({self.reference} and {other.reference})",
                fix="merge only the windows of one model version, profiled against its "
                "reference profile",
            )
        columns: dict[str, ColumnProfile] = {}
        for name, mine in self.columns.items():
            theirs = other.columns[name]
            columns[name] = _merge(mine, theirs, self.keep_values)
        prediction = None
        if self.prediction is not None and other.prediction is not None:
            prediction = self.prediction.merge(other.prediction, keep_values=self.keep_values)
        flags = dict(self.flags)
        for flag, count in other.flags.items():
            flags[flag] = flags.get(flag, 0) + count
        return WindowProfile(
            self.reference, self.rows + other.rows, columns, prediction, flags, self.keep_values
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (no NaN or infinity); :meth:`from_dict` reads it back."""
        return {
            "reference": self.reference,
            "rows": self.rows,
            "keep_values": self.keep_values,
            "columns": {name: _column_dict(p) for name, p in self.columns.items()},
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "flags": dict(sorted(self.flags.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowProfile:
        prediction = data.get("prediction")
        return cls(
            reference=str(data["reference"]),
            rows=int(data["rows"]),
            columns={name: _column_from(p) for name, p in data["columns"].items()},
            prediction=None if prediction is None else NumericProfile.from_dict(prediction),
            flags={str(k): int(v) for k, v in data.get("flags", {}).items()},
            keep_values=int(data["keep_values"]),
        )


def merge_profiles(profiles: Iterable[WindowProfile]) -> WindowProfile:
    """All ``profiles`` merged into one (for example every hour of a day)."""
    merged: WindowProfile | None = None
    for profile in profiles:
        merged = profile if merged is None else merged.merge(profile)
    if merged is None:
        raise DataError("no window profiles to merge", fix="pass at least one window profile")
    return merged


def profile_window(
    data: pa.Table | pads.Dataset | pa.RecordBatch,
    reference: ReferenceProfile,
    *,
    threads: int | None = None,
) -> WindowProfile:
    """Profile a window of rows (a prediction-log table, say) over ``reference``'s bins.

    >>> from forgeml.monitor.reference import fit_reference
    >>> ref = fit_reference(pa.table({"x": [1.0, 2.0, 3.0, 4.0], "c": ["a", "a", "b", "b"]}))
    >>> window = profile_window(pa.table({"x": [2.5, None], "c": ["b", "z"],
    ...                                   "flags": [["c:unseen_category"], []]}), ref)
    >>> window.rows, window.columns["x"].nulls, window.columns["c"].unseen, window.flags
    (2, 1, 1, {'c:unseen_category': 1})
    """
    source = Source(data)
    jobs: list[tuple[str, str, Bins, bool]] = [
        (c.name, c.kind, c.bins, False) for c in reference.columns
    ]
    if reference.prediction is not None:
        jobs.append((SCORE_COLUMN, "float", reference.prediction.bins, True))

    def one(job: tuple[str, str, Bins, bool]) -> ColumnProfile:
        name, _kind, bins, raw = job
        present = name in source.schema.names if raw else source.has(name)
        if not present:
            return _missing(source.rows, bins, absent=True)
        profile = column_profile(source.column(name, raw=raw), bins, reference.keep_values)
        pa.default_memory_pool().release_unused()  # a column at a time, in memory too
        return profile

    profiles = parallel_map(one, jobs, threads)
    prediction = None
    if reference.prediction is not None:
        score = profiles.pop()
        prediction = score if isinstance(score, NumericProfile) else None
    flags = {}
    if FLAGS_COLUMN in source.schema.names:
        flags = count_flags(source.column(FLAGS_COLUMN, raw=True))
    columns = dict(zip((c.name for c in reference.columns), profiles, strict=True))
    return WindowProfile(
        reference.id, source.rows, columns, prediction, flags, reference.keep_values
    )


def column_profile(column: pa.ChunkedArray, bins: Bins, keep_values: int) -> ColumnProfile:
    """One column's profile over its reference bins (``invalid`` if its type cannot fit)."""
    if isinstance(bins, NumericBins):
        values = numbers(column)
        if values is None:
            return NumericProfile.missing(len(column), bins, absent=False)
        return NumericProfile.of(values, bins, keep_values=keep_values)
    text = strings(column)
    if text is None:
        return CategoryProfile.missing(len(column), bins, absent=False)
    return CategoryProfile.of(text, bins)


def count_flags(column: pa.ChunkedArray) -> dict[str, int]:
    """How often each ``column:tag`` flag occurs in a list (or ``;``-joined) flags column.

    >>> count_flags(pa.chunked_array([[["a:out_of_range"], None, ["a:out_of_range;b:x"]]]))
    {'a:out_of_range': 2, 'b:x': 1}
    """
    flat: pa.ChunkedArray | pa.Array = column
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        flat = pc.list_flatten(column)
    if not (pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type)):
        return {}
    parts = pc.list_flatten(pc.split_pattern(flat, ";"))
    parts = parts.filter(pc.fill_null(pc.greater(pc.utf8_length(parts), 0), False))
    if not len(parts):
        return {}
    found = pc.value_counts(parts)
    return dict(
        sorted(
            zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True)
        )
    )


def parallel_map(fn: Callable[[_T], _R], items: Sequence[_T], threads: int | None) -> list[_R]:
    """``fn`` over ``items`` on a thread pool (in order); one thread for one item."""
    workers = min(threads or min(os.cpu_count() or 1, 8), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="forgeml-monitor") as pool:
        return list(pool.map(fn, items))


def _missing(rows: int, bins: Bins, *, absent: bool) -> ColumnProfile:
    if isinstance(bins, NumericBins):
        return NumericProfile.missing(rows, bins, absent=absent)
    return CategoryProfile.missing(rows, bins, absent=absent)


def _merge(mine: ColumnProfile, theirs: ColumnProfile, keep_values: int) -> ColumnProfile:
    if isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile):
        return mine.merge(theirs, keep_values=keep_values)
    if isinstance(mine, CategoryProfile) and isinstance(theirs, CategoryProfile):
        return mine.merge(theirs)
    raise DataError(
        "cannot merge a numeric column profile with a categorical one",
        fix="merge only window profiles made against the same reference profile",
    )


def _column_dict(profile: ColumnProfile) -> dict[str, Any]:
    family = "numeric" if isinstance(profile, NumericProfile) else "categorical"
    return {"type": family, **profile.to_dict()}


def _column_from(data: dict[str, Any]) -> ColumnProfile:
    if data.get("type") == "numeric":
        return NumericProfile.from_dict(data)
    return CategoryProfile.from_dict(data)
