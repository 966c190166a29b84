"""Reading a model's logged predictions back as one Arrow table.

>>> import tempfile
>>> from forgeml.serve.predlog import PredictionLog
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> with PredictionLog(project, "credit", [{"name": "age", "kind": "integer"}]) as log:
...     log.log_predictions(ids=["a", "b"], version=1, arm="champion", inputs={"age": [30, 41]},
...                         scores=[0.2, 0.7], labels=[0, 1], latency_ms=1.5)
>>> table = read_predictions(project, "credit", columns=["request_id", "age", "score"])
>>> table.to_pylist()
[{'request_id': 'a', 'age': 30, 'score': 0.2}, {'request_id': 'b', 'age': 41, 'score': 0.7}]
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from forgeml.errors import NotFound
from forgeml.project import Project
from forgeml.registry.refs import check_model_name
from forgeml.serve.logschema import PREDICTION_SCHEMA
from forgeml.serve.segments import TimeLike, concat, in_window, read_segments, to_utc

__all__ = ["read_predictions"]


def read_predictions(
    project: Project,
    model: str,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    version: int | None = None,
    arm: str | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Predictions of ``model`` made in ``[start, end)``, oldest first.

    ``version`` and ``arm`` keep only the rows of that model version or rollout arm;
    ``columns`` reads only those columns. A model with no logged predictions gives an
    empty table with the fixed prediction columns.
    """
    check_model_name(model)
    low, high = to_utc(start, "start"), to_utc(end, "end")
    filters = {"time"} | ({"version"} if version is not None else set())
    filters |= {"arm"} if arm is not None else set()
    wanted = None if columns is None else set(columns) | filters
    tables = read_segments(project, model, "predictions", start=low, end=high, columns=wanted)
    table = concat(tables, PREDICTION_SCHEMA, model=model)
    keep = in_window(table.column("time"), low, high)
    if version is not None:
        keep = pc.and_(keep, pc.equal(table.column("version"), pa.scalar(version, pa.int32())))
    if arm is not None:
        keep = pc.and_(keep, pc.equal(table.column("arm"), pa.scalar(arm, pa.string())))
    table = table.filter(pc.fill_null(keep, False))
    table = table.take(pc.sort_indices(table.column("time")))  # stable: ties keep log order
    if columns is None:
        return table
    return _select(table, columns, model, logged=bool(tables))


def _select(table: pa.Table, columns: Sequence[str], model: str, *, logged: bool) -> pa.Table:
    """``columns`` of ``table``; an unknown column is an error once anything was logged
    (before that, the inputs are unknown and it comes back as a column of nulls)."""
    missing = [name for name in columns if name not in table.column_names]
    if missing and logged:
        raise NotFound(
            f"the prediction log of model '{model}' has no column "
            f"{', '.join(repr(m) for m in missing)}",
            fix=f"choose from: {', '.join(table.column_names)}",
        )
    for name in missing:
        table = table.append_column(name, pa.nulls(table.num_rows))
    return table.select(list(columns))
