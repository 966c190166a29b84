"""The rows a retraining cycle learns from and the rows it judges on.

Both come from the prediction log joined with its feedback labels: the inputs the served
model saw, with the label that arrived later as the target. Each request counts once.

The rows the champion has not seen are the *new* ones: labelled predictions made after
the newest labelled row of its training data (when a cycle trained it), and never a row
already in its training dataset. The newest of them are held out by time, before any
training set is assembled: the labelled predictions of the last ``evaluate_on`` before the
newest label, or the newest ``least`` of them when that span holds fewer (a quiet stream
needs more days for a verdict), but never more than half of the new rows, so the
challenger still learns from the rest. Champion and challenger are compared only on these
held-out rows, which neither was fitted on. Training rows are, by the policy's ``data.mode``:

- ``sliding_window``: the labelled predictions of the ``data.window`` before the held-out ones;
- ``recent_plus_reference``: those, plus a sample of the champion's training dataset
  (``data.reference_rows``), so rare cases of the old regime are not forgotten;
- ``all``: the champion's whole training dataset plus every new labelled prediction before
  the held-out ones, each row once.

With ``recent`` set (a cycle started by decay or drift), a second set of training rows
holds only the newest labelled predictions before the held-out ones: those of the
``recent`` span, or the newest ``min_rows`` of them when the span has fewer. After a
sudden change, a model that learns from everything is outvoted by the old regime; one
that learns from the recent rows is not.
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
from forgeml.errors import DataError, ForgemlError
from forgeml.loop.rows import distinct_rows, new_rows, row_keys
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion, versions
from forgeml.serve.predlog import labelled_predictions

__all__ = ["CycleData", "cycle_data", "labelled_table", "unseen_rows"]


@dataclass(frozen=True)
class CycleData:
    """Training rows (inputs + target) and the held-out recent rows, as Arrow tables.

    ``new_rows``: labelled rows the champion has not seen that the challenger may learn
    from (the held-out ones excluded); ``newest``: the newest labelled prediction.
    """

    train: pa.Table
    holdout: pa.Table
    target: str
    split_at: datetime
    new_rows: int = 0
    newest: datetime | None = None
    same_as_champion: bool = False  # the training rows are exactly the champion's
    recent: pa.Table | None = None  # only the newest rows before the held-out ones


def labelled_table(
    project: Project, version: ModelVersion, *, start: datetime | None, end: datetime | None
) -> pa.Table:
    """Labelled predictions of ``[start, end)`` as inputs + target + ``predicted_at``.

    Only labels that had arrived by ``end`` count. Shadow rows are left out (they repeat a
    served request), and each request counts once; rows whose label is not one
    of the model's classes (or not a number, for regression) are left out too.
    """
    joined = labelled_predictions(project, version.name, start=start, end=end)
    if joined.num_rows and end is not None:  # labels that had not arrived by then are unknown
        arrived = joined.column("label_time")
        joined = joined.filter(pc.less_equal(arrived, pa.scalar(end, arrived.type)))
    if joined.num_rows:
        joined = joined.filter(pc.not_equal(joined.column("arm"), "shadow"))
        joined = distinct_rows(joined, ["request_id"])  # a request replayed counts once
    target = str(version.signature.get("target") or "target")
    names = [str(c["name"]) for c in version.signature.get("inputs", [])]
    columns: dict[str, Any] = {}
    for name in names:
        stored = name if name in joined.schema.names else f"input.{name}"
        if stored not in joined.schema.names and not joined.num_rows:
            columns[name] = pa.nulls(0)  # nothing logged yet: no rows, whatever the inputs
            continue
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
    seen_before: datetime | None = None,
    seed: int = 0,
    recent: timedelta | None = None,
    min_rows: int = 0,
    least: int = 0,
) -> CycleData:
    """Training rows and held-out recent rows for a challenger of ``champion`` at ``now``.

    Labels arrive late, so "recent" is counted back from the newest labelled prediction,
    not from ``now``. ``seen_before``: labelled predictions before this time may be in the
    champion's training rows (None: it learnt from a dataset, not from the log).
    ``recent``: also the rows of this span before the held-out ones (at least the newest
    ``min_rows``), for a second challenger; None when they would be the training rows.
    ``least``: hold out at least this many rows (at most half the new ones) to judge on.
    """
    labelled, original, fresh = _unseen(project, champion, now=now, seen_before=seen_before)
    target = str(champion.signature.get("target") or "target")
    names = [n for n in labelled.column_names if n != "predicted_at"]
    if fresh.num_rows == 0:
        empty = labelled.slice(0, 0)
        return CycleData(empty.drop_columns(["predicted_at"]), empty, target, now)
    split_at = _holdout_start(fresh.column("predicted_at"), evaluate_on, least)
    newest = pc.max(fresh.column("predicted_at")).as_py()
    at = fresh.column("predicted_at")
    holdout = fresh.filter(pc.greater_equal(at, pa.scalar(split_at, at.type)))
    learn = fresh.filter(pc.less(at, pa.scalar(split_at, at.type)))
    if mode != "all":  # the window may reach back into rows the champion saw
        at = labelled.column("predicted_at")
        since = pa.scalar(split_at - window, at.type)
        before = pa.scalar(split_at, at.type)
        train = labelled.filter(pc.and_(pc.greater_equal(at, since), pc.less(at, before)))
    else:
        train = learn
    train = train.drop_columns(["predicted_at"])
    everything = original
    if mode in ("recent_plus_reference", "all") and original is not None:
        if mode == "recent_plus_reference" and original.num_rows > reference_rows:
            rng = np.random.default_rng(seed)
            picked = np.sort(rng.choice(original.num_rows, reference_rows, replace=False))
            original = original.take(pa.array(picked))
        wanted = [n for n in train.column_names if n in original.column_names]
        train = pa.concat_tables(
            [train.select(wanted), original.select(wanted)], promote_options="permissive"
        )
    same = everything is not None and set(row_keys(train, names).tolist()) == set(
        row_keys(everything, names).tolist()
    )
    latest = None if recent is None else _recent_rows(labelled, split_at, recent, min_rows)
    if latest is not None and latest.num_rows >= train.num_rows:
        latest = None  # the same rows (sliding_window with a shorter window): nothing new
    return CycleData(train, holdout, target, split_at, learn.num_rows, newest, same, latest)


def _recent_rows(labelled: pa.Table, split_at: datetime, span: timedelta, least: int) -> pa.Table:
    """The labelled rows of ``span`` before ``split_at``, or the newest ``least`` before it."""
    at = labelled.column("predicted_at")
    before = labelled.filter(pc.less(at, pa.scalar(split_at, at.type)))
    at = before.column("predicted_at")
    order = np.argsort(at.cast(pa.int64()).to_numpy(zero_copy_only=False), kind="stable")
    inside = int(pc.sum(pc.greater_equal(at, pa.scalar(split_at - span, at.type))).as_py() or 0)
    keep = order[len(order) - min(len(order), max(inside, least)) :]
    return before.take(pa.array(np.sort(keep))).drop_columns(["predicted_at"])


def unseen_rows(
    project: Project,
    champion: ModelVersion,
    *,
    now: datetime,
    seen_before: datetime | None,
    after: datetime | None = None,
) -> tuple[int, int]:
    """How many labelled rows the champion has not seen at ``now``, and how many there are.

    ``after``: count only rows predicted after this time (those before were used already,
    to judge it). The second number counts every distinct labelled row of the model: each
    labelled prediction by ``now`` and each row a version of it learnt from.
    """
    labelled, original, fresh = _unseen(project, champion, now=now, seen_before=seen_before)
    if fresh.num_rows and after is not None:
        at = fresh.column("predicted_at")
        fresh = fresh.filter(pc.greater(at, pa.scalar(after, at.type)))
    names = [n for n in labelled.column_names if n != "predicted_at"]
    keys = [row_keys(labelled, names)]
    if original is not None:
        keys.append(row_keys(original, names))
    for ref in _training_datasets(project, champion):
        try:
            table = dataset(ref, project=project).to_arrow()
        except ForgemlError:  # a dataset version deleted since: its rows are unknown
            continue
        if all(n in table.column_names for n in names):
            keys.append(row_keys(table, names))
    return fresh.num_rows, len(np.unique(np.concatenate(keys)))


def _training_datasets(project: Project, champion: ModelVersion) -> list[str]:
    """The training datasets of every version of the champion's model, each once."""
    refs = {str(v.signature.get("dataset") or "") for v in versions(champion.name, project=project)}
    refs.discard("")
    refs.discard(str(champion.signature.get("dataset") or ""))  # read already
    return sorted(refs)


def _unseen(
    project: Project, champion: ModelVersion, *, now: datetime, seen_before: datetime | None
) -> tuple[pa.Table, pa.Table | None, pa.Table]:
    """Every labelled prediction by ``now``, the champion's training rows, and the new rows."""
    labelled = labelled_table(project, champion, start=None, end=now)
    names = [n for n in labelled.column_names if n != "predicted_at"]
    original = _champion_rows(project, champion, names)
    fresh = labelled
    if fresh.num_rows and seen_before is not None:
        at = fresh.column("predicted_at")
        fresh = fresh.filter(pc.greater_equal(at, pa.scalar(seen_before, at.type)))
    if fresh.num_rows and original is not None:
        fresh = fresh.filter(pa.array(new_rows(fresh, seen=original, columns=names)))
    return labelled, original, fresh


def _champion_rows(project: Project, champion: ModelVersion, names: list[str]) -> pa.Table | None:
    """The champion's training dataset, reduced to the log's columns (None: none known)."""
    ref = champion.signature.get("dataset")
    if not ref:
        return None
    table = dataset(str(ref), project=project).to_arrow()
    if not all(n in table.column_names for n in names):
        return None
    return table.select(names)


def _holdout_start(times: pa.ChunkedArray, evaluate_on: timedelta, least: int) -> datetime:
    """Where the held-out rows begin: ``evaluate_on`` before the newest (or ``least`` rows
    before it, if earlier), but at most half the rows."""
    ordered = np.sort(times.cast(pa.int64()).to_numpy(zero_copy_only=False))
    unit = times.type.unit
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    by_window = ordered[-1] - int(evaluate_on.total_seconds() * per_second)
    by_count = ordered[max(len(ordered) - least, 0)] if least > 0 else by_window
    by_half = ordered[len(ordered) // 2] if len(ordered) > 1 else ordered[0]
    start = int(max(min(by_window, by_count), by_half))
    value: datetime = pa.scalar(start, pa.int64()).cast(times.type).as_py()
    return value
