"""What is being learned: the task inferred from the target, and checks that it is learnable.

>>> import pyarrow as pa
>>> t = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "churned": [True, False, True, False]})
>>> info = infer_task(t, "churned")
>>> info.task, info.classes
('binary', [False, True])
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import Task
from forgeml.errors import ConfigError, DataError

__all__ = ["MAX_CLASSES", "TargetInfo", "check_leakage", "infer_task"]

MAX_CLASSES = 50
# An integer target with at most this many distinct values is read as classes.
MAX_INTEGER_CLASSES = 20
# Rows sampled first when checking for leakage: a value with two classes among them ends it.
LEAK_SAMPLE_ROWS = 20_000

Resolved = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class TargetInfo:
    """The target column, its task, and for classification its classes (sorted)."""

    column: str
    task: Resolved
    classes: list[Any] | None = None

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    @property
    def positive_class(self) -> Any:
        """The class a binary model's score is the probability of (the second, sorted)."""
        return self.classes[1] if self.task == "binary" and self.classes else None


def infer_task(table: pa.Table, target: str | None, declared: Task = "auto") -> TargetInfo:
    """Resolve the task for ``target``; raise a clear error when it cannot be learned."""
    if not target:
        raise ConfigError(
            "no target column is set",
            fix="set train.target in forgeml.yaml, or pass --target COLUMN",
        )
    if target not in table.column_names:
        near = difflib.get_close_matches(target, table.column_names, n=1)
        hint = (
            f"did you mean '{near[0]}'?"
            if near
            else "the columns are " + ", ".join(table.column_names[:20])
        )
        raise ConfigError(f"the target column '{target}' is not in the data", fix=hint)
    column = table.column(target)
    present = column.drop_null()
    if len(present) == 0:
        raise DataError(
            f"the target column '{target}' is empty (every value is missing)",
            fix="choose another target, or fix the data",
        )
    distinct = pc.unique(present)
    if len(distinct) < 2:
        raise DataError(
            f"the target column '{target}' has a single value ({distinct[0].as_py()!r}): "
            "there is nothing to learn",
            fix="check the data extract, or choose another target",
        )
    kind = column.type
    if declared == "regression":
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise ConfigError(
                f"task 'regression' needs a numeric target; '{target}' is {kind}",
                fix="set train.task to binary or multiclass, or pick a numeric target",
            )
        return TargetInfo(target, "regression")
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
    looks_like_classes = _whole_numbers(present) and len(distinct) <= MAX_INTEGER_CLASSES
    if declared == "auto" and numeric and not looks_like_classes:
        return TargetInfo(target, "regression")
    classes = sorted(distinct.to_pylist())
    if len(classes) > MAX_CLASSES:
        raise DataError(
            f"the target column '{target}' has {len(classes)} distinct values, too many classes",
            fix="set train.task: regression for a numeric target, or group rare classes",
        )
    task: Resolved = "binary" if len(classes) == 2 else "multiclass"
    if declared == "binary" and task != "binary":
        raise ConfigError(
            f"task 'binary' needs 2 classes; '{target}' has {len(classes)}",
            fix="set train.task: multiclass (or auto)",
        )
    return TargetInfo(target, task, classes)


def check_leakage(table: pa.Table, target: TargetInfo, features: Sequence[str]) -> None:
    """Refuse features that are the target in disguise (identical, or a 1:1 relabelling)."""
    y = table.column(target.column)
    names = [name for name in features if name != target.column]
    codes = _codes(y) if target.is_classification else None
    # Sorting and hashing release the GIL: the columns are checked side by side.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        found = list(pool.map(lambda name: _leaks(table.column(name), y, codes, target), names))
    leaks = [name for name, leaking in zip(names, found, strict=True) if leaking]
    if leaks:
        raise DataError(
            f"feature(s) {', '.join(repr(n) for n in leaks)} determine the target "
            f"'{target.column}' exactly: a model would learn the answer, not the pattern",
            fix="exclude them with train.exclude in forgeml.yaml (or --exclude)",
        )


def _leaks(
    feature: pa.ChunkedArray, y: pa.ChunkedArray, codes: np.ndarray | None, target: TargetInfo
) -> bool:
    both = None
    if feature.null_count or y.null_count:
        both = pc.and_(pc.is_valid(feature), pc.is_valid(y))
        feature, y = pc.filter(feature, both), pc.filter(y, both)
    if len(y) < 10:
        return False
    if feature.type == y.type and pc.all(pc.equal(feature, y)).as_py():
        return True
    if codes is not None:
        if both is not None:
            codes = codes[np.asarray(both.to_numpy(zero_copy_only=False), dtype=bool)]
        keys = _keys(feature)
        if keys is None:  # a nested or unusual type: hash it with Arrow
            return _determines_by_grouping(feature, y)
        return _determines(keys, codes)
    if pa.types.is_integer(feature.type) or pa.types.is_floating(feature.type):
        a = feature.to_numpy(zero_copy_only=False).astype(np.float64)
        b = y.to_numpy(zero_copy_only=False).astype(np.float64)
        if np.std(a) == 0 or np.std(b) == 0:
            return False
        return bool(abs(np.corrcoef(a, b)[0, 1]) > 0.99999)
    return False


def _determines(keys: np.ndarray, codes: np.ndarray) -> bool:
    """True when each key goes with one class, there are 2+ keys and not too many to judge.

    A key with two classes among a sample of the rows settles it cheaply; otherwise the
    keys are sorted once to count them, and again with their classes only when needed.
    """
    step = max(1, len(keys) // LEAK_SAMPLE_ROWS)
    if _mixed(*_sorted(keys[::step], codes[::step])):
        return False
    ordered = np.sort(keys)
    distinct = len(ordered) - int(np.count_nonzero(_same(ordered)))
    if distinct < 2 or distinct > max(MAX_CLASSES, len(keys) // 2):
        return False  # an id-like column trivially "determines" every row
    return not _mixed(*_sorted(keys, codes))


def _sorted(keys: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], codes[order]


def _mixed(keys: np.ndarray, codes: np.ndarray) -> bool:
    """Whether sorted ``keys`` hold one key with two different classes."""
    return bool(np.any(_same(keys) & (codes[1:] != codes[:-1])))


def _same(ordered: np.ndarray) -> np.ndarray:
    """Each sorted key equal to the one before it (NaNs, sorted last, count as one value)."""
    same: np.ndarray = ordered[1:] == ordered[:-1]
    if ordered.dtype.kind == "f":
        same |= np.isnan(ordered[1:]) & np.isnan(ordered[:-1])
    return same


def _keys(column: pa.ChunkedArray) -> np.ndarray | None:
    """The column as numbers that are equal exactly when its values are, or None."""
    kind = column.type
    if pa.types.is_floating(kind):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if (
        pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_temporal(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return _codes(column)
    return None


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """One integer per distinct value (nulls, if any, get -1)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    return np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _determines_by_grouping(feature: pa.ChunkedArray, y: pa.ChunkedArray) -> bool:
    n_values = pc.count_distinct(feature).as_py()
    if n_values > max(MAX_CLASSES, len(y) // 2):
        return False  # an id-like column trivially "determines" every row
    pairs = pa.table({"f": feature, "t": y}).group_by("f").aggregate([("t", "count_distinct")])
    return bool(pc.max(pairs.column("t_count_distinct")).as_py() == 1) and n_values >= 2


def _whole_numbers(values: pa.ChunkedArray) -> bool:
    if not pa.types.is_floating(values.type):
        return True
    array = values.to_numpy(zero_copy_only=False)
    return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
