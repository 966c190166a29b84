"""What is being learned: the task inferred from the target, and checks that it is learnable.

>>> import pyarrow as pa
>>> t = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "churned": [True, False, True, False]})
>>> info = infer_task(t, "churned")
>>> info.task, info.classes
('binary', [False, True])
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
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
    leaks = [
        name for name in features if name != target.column and _leaks(table.column(name), y, target)
    ]
    if leaks:
        raise DataError(
            f"feature(s) {', '.join(repr(n) for n in leaks)} determine the target "
            f"'{target.column}' exactly: a model would learn the answer, not the pattern",
            fix="exclude them with train.exclude in forgeml.yaml (or --exclude)",
        )


def _leaks(feature: pa.ChunkedArray, y: pa.ChunkedArray, target: TargetInfo) -> bool:
    both = pc.and_(pc.is_valid(feature), pc.is_valid(y))
    f, t = pc.filter(feature, both), pc.filter(y, both)
    if len(t) < 10:
        return False
    if feature.type == y.type and pc.all(pc.equal(f, t)).as_py():
        return True
    if target.is_classification:
        n_values = pc.count_distinct(f).as_py()
        if n_values > max(MAX_CLASSES, len(t) // 2):
            return False  # an id-like column trivially "determines" every row
        pairs = pa.table({"f": f, "t": t}).group_by("f").aggregate([("t", "count_distinct")])
        return bool(pc.max(pairs.column("t_count_distinct")).as_py() == 1) and n_values >= 2
    if pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
        a = f.to_numpy(zero_copy_only=False).astype(np.float64)
        b = t.to_numpy(zero_copy_only=False).astype(np.float64)
        if np.std(a) == 0 or np.std(b) == 0:
            return False
        return bool(abs(np.corrcoef(a, b)[0, 1]) > 0.99999)
    return False


def _whole_numbers(values: pa.ChunkedArray) -> bool:
    if not pa.types.is_floating(values.type):
        return True
    array = values.to_numpy(zero_copy_only=False)
    return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
