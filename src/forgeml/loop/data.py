"""The rows a retraining cycle learns from and the rows it judges on.

Both come from the prediction log joined with its feedback labels: the inputs the served
model saw, with the label that arrived later as the target. The most recent labelled
predictions (``evaluate_on``) are held out: champion and challenger are compared on them,
and the challenger never trains on them. Training rows are, by the policy's ``data.mode``:

- ``sliding_window``: the labelled predictions of the ``data.window`` before the held-out ones;
- ``recent_plus_reference``: those, plus a sample of the champion's training dataset
  (``data.reference_rows``), so rare cases of the old regime are not forgotten;
- ``all``: the champion's whole training dataset plus every labelled prediction before the
  held-out ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.data.versions import dataset
from forgeml.errors import DataError
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion
from forgeml.serve.predlog import labelled_predictions

__all__ = ["CycleData", "cycle_data", "labelled_table"]


@dataclass(frozen=True)
class CycleData:
    """Training rows (inputs + target) and the held-out recent rows, as Arrow tables."""

    train: pa.Table
    holdout: pa.Table
    target: str
    split_at: datetime


def labelled_table(
    project: Project, version: ModelVersion, *, start: datetime | None, end: datetime | None
) -> pa.Table:
    """Labelled predictions of ``[start, end)`` as inputs + target + ``predicted_at``.

    Shadow rows are left out (they repeat a served request); rows whose label is not one
    of the model's classes (or not a number, for regression) are left out too.
    """
    joined = labelled_predictions(project, version.name, start=start, end=end)
    if joined.num_rows:
        joined = joined.filter(pc.not_equal(joined.column("arm"), "shadow"))
    target = str(version.signature.get("target") or "target")
    names = [str(c["name"]) for c in version.signature.get("inputs", [])]
    columns: dict[str, Any] = {}
    for name in names:
        stored = name if name in joined.schema.names else f"input.{name}"
        if stored not in joined.schema.names:
            raise DataError(
                f"the prediction log of '{version.name}' has no input column '{name}'",
                fix="retrain from a dataset instead: the log predates this input",
            )
        columns[name] = joined.column(stored)
    labels = [None if t is None else json.loads(t) for t in joined.column("true_label").to_pylist()]
    classes = version.signature.get("classes")
    if classes:
        keep = np.array([label in classes for label in labels], dtype=bool)
        kind = pa.bool_() if all(isinstance(c, bool) for c in classes) else None
    else:
        keep = np.array([isinstance(v, int | float) and not isinstance(v, bool) for v in labels])
        kind = pa.float64()
    columns[target] = pa.array(labels, type=kind)
    columns["predicted_at"] = joined.column("time")
    table = pa.table(columns)
    return table.filter(pa.array(keep, type=pa.bool_())) if len(keep) else table


def cycle_data(
    project: Project,
    champion: ModelVersion,
    *,
    now: datetime,
    mode: str,
    window: timedelta,
    evaluate_on: timedelta,
    reference_rows: int,
    seed: int = 0,
) -> CycleData:
    """Training rows and held-out recent rows for a challenger of ``champion`` at ``now``.

    Labels arrive late, so "recent" is counted back from the newest labelled prediction,
    not from ``now``: the held-out rows are the labelled predictions of the last
    ``evaluate_on`` before it, the training rows the ``window`` before those.
    """
    labelled = labelled_table(project, champion, start=None, end=now)
    if labelled.num_rows == 0:
        empty = labelled.drop_columns(["predicted_at"])
        return CycleData(empty, labelled, str(champion.signature.get("target")), now)
    newest = pc.max(labelled.column("predicted_at")).as_py()
    split_at = newest - evaluate_on
    at = labelled.column("predicted_at")
    if mode == "all":
        recent = labelled
    else:
        recent = labelled.filter(pc.greater_equal(at, pa.scalar(split_at - window, at.type)))
    at = recent.column("predicted_at")
    holdout = recent.filter(pc.greater_equal(at, pa.scalar(split_at, at.type)))
    train = recent.filter(pc.less(at, pa.scalar(split_at, at.type)))
    target = str(champion.signature.get("target") or "target")
    if mode in ("recent_plus_reference", "all") and champion.signature.get("dataset"):
        original = dataset(str(champion.signature["dataset"]), project=project).to_arrow()
        wanted = [n for n in train.column_names if n in original.column_names]
        original = original.select(wanted)
        if mode == "recent_plus_reference" and original.num_rows > reference_rows:
            rng = np.random.default_rng(seed)
            picked = np.sort(rng.choice(original.num_rows, reference_rows, replace=False))
            original = original.take(pa.array(picked))
        train = pa.concat_tables([train.select(wanted), original], promote_options="permissive")
    else:
        train = train.drop_columns(["predicted_at"])
    return CycleData(train, holdout, target, split_at)
