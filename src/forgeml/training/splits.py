"""Hold-out splits and cross-validation folds: random, stratified, time-ordered, group-aware.

Time splits never put a row in training that is later than any validation or test row;
group splits never put one group on both sides.

>>> import pyarrow as pa
>>> from forgeml.config import SplitSpec
>>> from forgeml.training.task import TargetInfo
>>> t = pa.table({"y": [0, 1] * 50})
>>> s = make_split(t, SplitSpec(), TargetInfo("y", "binary", [0, 1]), seed=0)
>>> s.method, len(s.train) + len(s.valid) + len(s.test)
('stratified', 100)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from forgeml.config import SplitSpec
from forgeml.errors import ConfigError, DataError
from forgeml.training.task import TargetInfo

__all__ = [
    "Split",
    "cv_folds",
    "make_split",
    "rare_class_warning",
    "resolve_method",
    "time_split_warning",
]

Indices = np.ndarray


@dataclass(frozen=True)
class Split:
    """Row indices of each part, and how they were chosen."""

    method: str
    train: Indices
    valid: Indices
    test: Indices


def resolve_method(spec: SplitSpec, target: TargetInfo) -> str:
    if spec.method != "auto":
        return spec.method
    if spec.time_column:
        return "time"
    if spec.group_column:
        return "group"
    return "stratified" if target.is_classification else "random"


def make_split(table: pa.Table, spec: SplitSpec, target: TargetInfo, *, seed: int) -> Split:
    """Split the rows of ``table`` (rows with a missing target must already be removed)."""
    method = resolve_method(spec, target)
    n = table.num_rows
    rows = np.arange(n)
    if n < 10:
        raise DataError(
            f"only {n} rows with a target: too few to train and test a model",
            fix="ingest more data",
        )
    if method == "time":
        order = _time_order(table, spec)
        n_test = max(1, round(n * spec.test_size))
        n_valid = max(1, round(n * spec.validation_size))
        train, valid, test = _cut_at_distinct_times(table, spec, order, n_valid, n_test)
        return Split(method, train, valid, test)
    if method == "group":
        groups = _column(table, spec.group_column, "group_column")
        rest, test = next(
            GroupShuffleSplit(1, test_size=spec.test_size, random_state=seed).split(
                rows, groups=groups
            )
        )
        inner = GroupShuffleSplit(
            1, test_size=spec.validation_size / (1 - spec.test_size), random_state=seed + 1
        )
        tr, va = next(inner.split(rest, groups=groups[rest]))
        return Split(method, rest[tr], rest[va], test)
    stratify = _labels(table, target) if method == "stratified" else None
    if stratify is not None and np.unique(stratify, return_counts=True)[1].min() < 2:
        raise _too_rare(table, target)
    rest, test = train_test_split(
        rows, test_size=spec.test_size, random_state=seed, stratify=stratify
    )
    if stratify is not None and np.unique(stratify[rest], return_counts=True)[1].min() < 2:
        raise _too_rare(table, target)
    train, valid = train_test_split(
        rest,
        test_size=spec.validation_size / (1 - spec.test_size),
        random_state=seed + 1,
        stratify=stratify[rest] if stratify is not None else None,
    )
    split = Split(method, np.sort(train), np.sort(valid), np.sort(test))
    if stratify is not None:
        classes = len(np.unique(stratify))
        if any(len(np.unique(stratify[part])) < classes for part in (train, valid, test)):
            raise _too_rare(table, target)
    return split


RARE_CLASS_TEST_ROWS = 5
"""Fewer test rows than this in some class, and the output warns that its scores are shaky."""


def rare_class_warning(table: pa.Table, target: TargetInfo, split: Split) -> str | None:
    """A warning naming the class counts when a class has very few held-out test rows."""
    if split.method != "stratified":
        return None
    labels = table.column(target.column).take(pa.array(split.test))
    in_test = {str(k): int(v) for k, v in _counts(labels)}
    rare = {k: v for k, v in in_test.items() if v < RARE_CLASS_TEST_ROWS}
    if not rare:
        return None
    shown = " and ".join(f"{v} of class '{k}'" for k, v in sorted(rare.items()))
    return (
        f"warning: few rows of a class ({_count_text(table, target)}); the test rows hold "
        f"{shown}, so its metrics rest on very few rows"
    )


def time_split_warning(table: pa.Table, split: Split) -> str | None:
    """A warning when rows with a time column were not split by time, else None.

    Test rows drawn from the training period score better than the months after it, and
    that test metric is also the loop's baseline for decay (:mod:`forgeml.monitor.baseline`).
    """
    if split.method == "time":
        return None
    kinds = (pa.types.is_timestamp, pa.types.is_date)
    times = [f.name for f in table.schema if any(kind(f.type) for kind in kinds)]
    if not times:
        return None
    named = ", ".join(f"'{name}'" for name in times[:3]) + (", ..." if len(times) > 3 else "")
    return (
        f"warning: the data has a time column ({named}) but its rows were split at random, so "
        "the test metric comes from the training rows' own period and live metrics will look "
        "worse than it (the loop's decay check compares against it); if a column says when "
        f"each row happened, set train.split.time_column: {times[0]} to test on the latest rows"
    )


def _counts(column: pa.Array | pa.ChunkedArray) -> list[tuple[object, int]]:
    counted = pc.value_counts(column)
    pairs = zip(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
    )
    return sorted(pairs, key=lambda kv: (kv[1], str(kv[0])))


def _count_text(table: pa.Table, target: TargetInfo) -> str:
    counts = _counts(table.column(target.column))
    return ", ".join(
        f"class '{value}': {count} of {table.num_rows} rows" for value, count in counts
    )


def _too_rare(table: pa.Table, target: TargetInfo) -> DataError:
    return DataError(
        f"'{target.column}' has a class too rare to train and test a model on "
        f"({_count_text(table, target)}): each class needs rows in training, validation "
        "and test (at least 3, and many more for trustworthy metrics)",
        fix="ingest more rows of the rare class, merge it into another class, "
        "or leave its rows out",
    )


def cv_folds(
    table: pa.Table, rows: Indices, spec: SplitSpec, target: TargetInfo, *, seed: int
) -> list[tuple[Indices, Indices]]:
    """Cross-validation folds over ``rows`` (positions into ``table``), same rules as splits."""
    method = resolve_method(spec, target)
    k = spec.cv_folds
    if method == "time":
        ordered = rows[np.argsort(_time_values(table, spec)[rows], kind="stable")]
        return [(ordered[a], ordered[b]) for a, b in TimeSeriesSplit(k).split(ordered)]
    if method == "group":
        groups = _column(table, spec.group_column, "group_column")[rows]
        return [(rows[a], rows[b]) for a, b in GroupKFold(k).split(rows, groups=groups)]
    if method == "stratified":
        labels = _labels(table, target)[rows]
        folds = StratifiedKFold(k, shuffle=True, random_state=seed).split(rows, labels)
    else:
        folds = KFold(k, shuffle=True, random_state=seed).split(rows)
    return [(rows[a], rows[b]) for a, b in folds]


def _labels(table: pa.Table, target: TargetInfo) -> np.ndarray:
    """A label per row for stratifying, numbered in the order of the classes' text.

    Splits must stay what they were when a stored model was trained (its held-out rows are
    rebuilt from them), and they were drawn with the text of each class as its label: the
    numbers follow that text's sort order, so the same rows are drawn.
    """
    column = table.column(target.column)
    if not target.classes or column.null_count:
        return np.asarray(column.to_pylist(), dtype=object).astype(str)
    codes = pc.index_in(column, value_set=pa.array(target.classes, type=column.type))
    rank = np.argsort(np.argsort(np.array([str(c) for c in target.classes]), kind="stable"))
    return np.asarray(rank[codes.to_numpy(zero_copy_only=False)], dtype=np.int64)


def _column(table: pa.Table, name: str | None, key: str) -> np.ndarray:
    if not name or name not in table.column_names:
        raise ConfigError(
            f"split.{key} {name!r} is not a column of the data",
            fix=f"set train.split.{key} to one of: {', '.join(table.column_names[:20])}",
        )
    column = table.column(name)
    if column.null_count:
        raise DataError(
            f"split column '{name}' has {column.null_count} missing values",
            fix="fill them, or split on another column",
        )
    return np.asarray(column.to_pylist(), dtype=object).astype(str)


def _time_values(table: pa.Table, spec: SplitSpec) -> np.ndarray:
    name = spec.time_column
    if not name or name not in table.column_names:
        raise ConfigError(
            f"split.time_column {name!r} is not a column of the data",
            fix="set train.split.time_column to a timestamp column",
        )
    column = table.column(name)
    if not (
        pa.types.is_timestamp(column.type)
        or pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
    ):
        raise ConfigError(
            f"split.time_column '{name}' is {column.type}, not a time",
            fix="choose a timestamp (or numeric time) column",
        )
    if column.null_count:
        raise DataError(
            f"time column '{name}' has {column.null_count} missing values",
            fix="fill them, or drop those rows before training",
        )
    numeric = pc.cast(column, pa.int64()) if pa.types.is_timestamp(column.type) else column
    return np.asarray(numeric.to_numpy())


def _time_order(table: pa.Table, spec: SplitSpec) -> np.ndarray:
    return np.argsort(_time_values(table, spec), kind="stable")


def _cut_at_distinct_times(
    table: pa.Table, spec: SplitSpec, order: np.ndarray, n_valid: int, n_test: int
) -> tuple[Indices, Indices, Indices]:
    """Cut the time order so that rows sharing a timestamp stay on one side."""
    times = _time_values(table, spec)[order]
    n = len(order)
    test_start = _boundary(times, n - n_test)
    valid_start = _boundary(times, test_start - n_valid)
    if not 0 < valid_start < test_start < n:
        raise DataError(
            "the time column has too few distinct times to split into train, validation and test",
            fix="use split.method: random or group",
        )
    return order[:valid_start], order[valid_start:test_start], order[test_start:]


def _boundary(times: np.ndarray, position: int) -> int:
    """Move a cut left until it falls between two different times."""
    position = max(1, min(position, len(times) - 1))
    return int(np.searchsorted(times, times[position], side="left"))
