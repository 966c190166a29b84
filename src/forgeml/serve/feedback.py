"""Feedback labels: the true outcome of a request, joined to its predictions by request id.

Labels may arrive at any time: days after the prediction, before it was logged (or even
made), out of order, more than once. They are stored as they come, in feedback segments;
reading keeps one row per request id: the first label given (earliest feedback time; for
equal times, the one written first). A later label that differs from the first is a
conflict: it stays stored (:func:`read_feedback` with ``every=True`` shows it) and is
counted (:func:`label_conflicts`), but never silently replaces the first one.

>>> import tempfile
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> log_feedback(project, "credit", ["a", "b"], [1, 0], time=100.0)
2
>>> log_feedback(project, "credit", ["b", "c"], [1, 0], time=200.0)  # b: a conflicting label
2
>>> [(row["request_id"], row["label"]) for row in read_feedback(project, "credit").to_pylist()]
[('a', '1'), ('b', '0'), ('c', '0')]
>>> label_conflicts(project, "credit")
1
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from time import time as _now
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.project import Project
from forgeml.registry.refs import check_model_name
from forgeml.serve.logbatch import FeedbackCall, check_feedback, feedback_table
from forgeml.serve.logreader import read_predictions
from forgeml.serve.logschema import FEEDBACK_SCHEMA, LABELLED_COLUMNS
from forgeml.serve.segments import (
    TimeLike,
    concat,
    in_window,
    read_segments,
    to_utc,
    write_segment,
    writer_id,
)

__all__ = [
    "first_labels",
    "label_conflicts",
    "labelled_predictions",
    "log_feedback",
    "read_feedback",
]


def log_feedback(
    project: Project,
    model: str,
    ids: Sequence[str],
    labels: Sequence[Any],
    *,
    time: TimeLike = None,
) -> int:
    """Store feedback labels for ``model`` now, as one segment; returns the rows written.

    ``labels[i]`` is the true outcome of request ``ids[i]``; ``time`` (default: now) is
    when it became known. Use :meth:`PredictionLog.log_feedback
    <forgeml.serve.predlog.PredictionLog.log_feedback>` inside a server instead: it
    buffers labels and writes them with the predictions.
    """
    check_model_name(model)
    rows = check_feedback(ids, labels)
    when = to_utc(time)
    stamp = _now() if when is None else when.timestamp()
    table = feedback_table([FeedbackCall(ids, labels, stamp, rows)], model)
    return write_segment(project, model, "feedback", table, writer=writer_id())


def read_feedback(
    project: Project,
    model: str,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    every: bool = False,
) -> pa.Table:
    """The feedback label of each request, given in ``[start, end)``, oldest first.

    Columns: ``request_id``, ``label`` (JSON text) and ``time`` (when it was given); one
    row per request id, its first label (see the module docs), or with ``every=True``
    every label stored, conflicting ones included.
    """
    check_model_name(model)
    low, high = to_utc(start, "start"), to_utc(end, "end")
    tables = read_segments(project, model, "feedback", start=low, end=high)
    table = concat(tables, FEEDBACK_SCHEMA, model=model).select(FEEDBACK_SCHEMA.names)
    keep = pc.and_(
        in_window(table.column("time"), low, high), pc.is_valid(table.column("request_id"))
    )
    table = table.filter(keep)
    return table.take(pc.sort_indices(table.column("time"))) if every else first_labels(table)


def label_conflicts(
    project: Project, model: str, *, start: TimeLike = None, end: TimeLike = None
) -> int:
    """How many labels given in ``[start, end)`` differ from their request's first label."""
    table = read_feedback(project, model, start=start, end=end, every=True)
    ordered, first = _grouped(table)
    if ordered is None:
        return 0
    labels = ordered.column("label").to_pylist()
    conflicts, current = 0, None
    for label, starts in zip(labels, first.tolist(), strict=True):
        if starts:
            current = label
        elif label != current:
            conflicts += 1
    return conflicts


def labelled_predictions(
    project: Project,
    model: str,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    arm: str | None = None,
) -> pa.Table:
    """Predictions made in ``[start, end)`` that have a feedback label, with that label.

    The prediction columns of :func:`read_predictions`, then ``true_label`` (JSON text,
    like ``label``) and ``label_time``. Every row of a request gets its label, so the
    champion and shadow rows of one request are both labelled; labels for request ids
    with no prediction in the window are left out.
    """
    predictions = read_predictions(project, model, start=start, end=end, arm=arm)
    feedback = read_feedback(project, model)  # any time: labels may predate predictions
    where = pc.index_in(
        predictions.column("request_id"),
        value_set=feedback.column("request_id").combine_chunks(),
    )
    found = pc.is_valid(where)
    table = predictions.filter(found)
    where = where.filter(found)
    true_label, label_time = LABELLED_COLUMNS
    table = table.append_column(true_label, feedback.column("label").take(where))
    return table.append_column(label_time, feedback.column("time").take(where))


def first_labels(table: pa.Table) -> pa.Table:
    """One row per request id: the earliest by ``time``, then the first in table order."""
    ordered, first = _grouped(table)
    if ordered is None:
        return table
    result = ordered.filter(pa.array(first))
    return result.take(pc.sort_indices(result.column("time")))


def _grouped(table: pa.Table) -> tuple[pa.Table | None, np.ndarray]:
    """Rows sorted by request id, time and table order, and where each request id starts."""
    rows = table.num_rows
    if rows == 0:
        return None, np.zeros(0, dtype=bool)
    ordered = table.append_column("_order", pa.array(np.arange(rows, dtype=np.int64)))
    order = pc.sort_indices(
        ordered,
        sort_keys=[("request_id", "ascending"), ("time", "ascending"), ("_order", "ascending")],
    )
    ids = table.column("request_id").take(order)
    first = np.ones(rows, dtype=bool)
    if rows > 1:
        differs = pc.not_equal(ids.slice(0, rows - 1), ids.slice(1))
        first[1:] = np.asarray(differs.to_numpy(zero_copy_only=False), dtype=bool)
    return table.take(order), first
