"""``forgeml predict --backend ray``: batch scoring with Ray Data, in bounded memory.

A Ray Data read task reads the file in chunks with forgeml's own readers (so every value is
typed as in local scoring) and hands each chunk on as soon as it is read; ``map_batches``
scores the chunks on a callable class that loads the model once per actor; the driver
writes each scored chunk as it arrives, in file order. Ray Data's streaming execution
keeps only a few chunks in flight, so no process ever holds the whole file. The output
equals :func:`forgeml.serve.batch.predict_file`'s. A row that cannot be read or scored
stops the run (as ``on_error="stop"``) and nothing is written.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from forgeml.errors import ConfigError, DataError, ForgemlError, MissingDependency
from forgeml.project import ProjectLike, resolve_project
from forgeml.serve.batch_check import ChunkChecker
from forgeml.serve.batch_read import open_input
from forgeml.serve.batch_scoring import BatchScorer, resolve_model
from forgeml.serve.batch_write import TableFile
from forgeml.serve.inputs import OutOfRange

__all__ = ["predict_file_ray"]

ROW = "__forgeml_row"


class _Scorer:
    """One Ray actor's model: loaded once from the project's stores, then fed batches."""

    def __init__(
        self, root: str, ref: str, out_of_range: OutOfRange, text: bool, schema: pa.Schema
    ) -> None:
        from forgeml.project import Project

        with Project.load(root) as project:
            version, bundle, _ = resolve_model(ref, project=project)
        self.scoring = BatchScorer(version, bundle, out_of_range)
        self.checker = ChunkChecker(
            self.scoring.schema, text=text, timezones=self.scoring.timezones
        )
        self.schema = schema

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = np.asarray(batch.column(ROW).to_numpy())
        data = batch.drop_columns([ROW]).combine_chunks()
        record = pa.RecordBatch.from_arrays(
            [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in data.columns],
            schema=data.schema,
        )
        checked = self.checker.check(record, rows)
        scores = np.empty(0)
        if checked.inputs.num_rows:
            checked, scores = self.scoring.score(checked, rows)
        if checked.rejects.num_rows:
            first = checked.rejects.slice(0, 1).to_pylist()[0]
            raise DataError(
                f"row {first['row']} cannot be scored: column {first['column']!r}: "
                f"{first['reason']}; nothing was written",
                fix="correct the row, or score the file locally with --on-error skip",
            )
        names = self.scoring.schema.name_set
        passthrough = [record.column(f.name) for f in record.schema if f.name not in names]
        columns = [*passthrough, *self.scoring.columns(checked, scores)]
        return pa.Table.from_arrays(columns, schema=self.schema)


def predict_file_ray(
    ref: str,
    input: str | Path,
    output: str | Path,
    *,
    project: ProjectLike = None,
    chunk_rows: int = 100_000,
    out_of_range: OutOfRange = "flag",
    concurrency: int = 2,
    address: str | None = None,
) -> dict[str, Any]:
    """Score ``input`` into ``output`` with model ``ref`` on Ray; returns rows and seconds.

    Uses the Ray already initialised in this process, else connects to ``address``
    (``auto``: the local cluster; None: ``RAY_ADDRESS``, else a Ray started for this call).
    """
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "--backend ray") from None
    started = time.perf_counter()
    found = resolve_project(project)
    version, bundle, _ = resolve_model(ref, project=found)
    scoring = BatchScorer(version, bundle, out_of_range)
    source = open_input(Path(input), chunk_rows)  # the columns only: a worker reads the rows
    try:
        columns, text = source.schema, source.unit == "bytes"
    finally:
        source.close()
    missing = [n for n in scoring.schema.names if n not in columns.names]
    if missing:
        raise DataError(
            f"{source.path} lacks input column(s) of {version.ref}: {', '.join(missing)}",
            fix=f"add the column(s) to the file; the model reads: "
            f"{', '.join(scoring.schema.names)}",
        )
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    from forgeml.serve.batch_ray_source import ChunkSource

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # write the rows in file order
    names = scoring.schema.name_set
    passthrough = [f.remove_metadata() for f in columns if f.name not in names]
    schema = pa.schema([*passthrough, *scoring.fields])
    # The read reserves no CPU: it is light, it must not take a scoring actor's CPU, and
    # a read with other resources than the scoring is not fused into the scoring actors
    # (fused, one actor would read and score the whole file alone).
    chunks = ChunkSource(source.path.resolve(), chunk_rows, ROW)
    dataset = ray.data.read_datasource(chunks, num_cpus=0, override_num_blocks=1).map_batches(
        _Scorer,
        fn_constructor_args=(str(found.root), version.ref, out_of_range, text, schema),
        batch_format="pyarrow",
        batch_size=None,
        concurrency=concurrency,
    )
    out = TableFile(Path(output), schema)
    rows = 0
    try:
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            scored = batch if isinstance(batch, pa.Table) else pa.table(batch)
            out.write(scored)
            rows += scored.num_rows
        if not rows:
            raise ConfigError(f"{input} has no rows to score", fix="score a file with rows")
        out.commit()
    except BaseException as error:
        out.discard()
        cause = _forgeml_cause(error)
        if cause is not None:  # the reader's or scorer's own message, not Ray's wrapping
            raise cause from None
        raise
    return {"model": version.ref, "rows": rows, "seconds": time.perf_counter() - started}


def _forgeml_cause(error: BaseException) -> ForgemlError | None:
    """The forgeml error a Ray task raised, unwrapped from Ray's exception chain."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ForgemlError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return None
