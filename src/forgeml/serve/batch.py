"""Batch scoring: a Parquet or CSV file in, a file of predictions out, memory bounded.

:func:`predict_file` reads the input in chunks (:mod:`~forgeml.serve.batch_read`), checks
each row with the HTTP server's input rules (:mod:`~forgeml.serve.batch_check`), scores
the rows that pass with the model's own predictor (vectorised, multithreaded) and appends
them to the output. A row that fails (a value of the wrong type, a number that is not
finite, a row whose score would not be finite) stops the whole run with an error naming its
row and column (``on_error="stop"``, the default), or is skipped: it goes to a rejects file
with its row number, column and reason (``on_error="skip"``). Files appear only when the
whole input has been scored.

Output columns: the input's columns that are not model inputs (an id, say), as they are;
``prediction`` (the class, or the value for regression); ``score`` (P(positive class) for
binary models, the top class's probability for multiclass); ``probability_<class>`` per
class (multiclass); ``flags`` (``column:out_of_range`` / ``column:unseen_category``
warnings joined by ``;``, null when none). Rows keep their input order.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa

from forgeml.errors import ConfigError, DataError
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.serve.batch_check import REJECTS_SCHEMA, ChunkChecker
from forgeml.serve.batch_read import Chunk, InputFile, open_input
from forgeml.serve.batch_scoring import BatchScorer, resolve_model
from forgeml.serve.batch_write import TableFile, rejects_path
from forgeml.serve.inputs import OutOfRange

__all__ = ["BatchResult", "OnError", "Progress", "predict_file", "resolve_model"]

BROKEN = "(row)"  # the column of a rejects entry about a whole CSV line
FIRST_REJECTED = 10  # how many rejected row numbers a result lists
OnError = Literal["stop", "skip"]


class Progress(Protocol):
    """Called after each chunk: ``done`` of ``total`` in ``unit`` ("rows" or "bytes")."""

    def __call__(self, *, done: int, total: int, unit: str, rows: int, rejected: int) -> None:
        """``rows`` read and ``rejected`` so far."""


@dataclass(frozen=True)
class BatchResult:
    """What one :func:`predict_file` call did.

    ``model`` is the version used (``name@N``) and ``chosen_by`` how: "reference" (named
    in the reference), "champion" or "newest". ``reasons`` counts rejected rows per
    ``"column: reason"``; ``first_rejected`` lists the first rejected row numbers (0-based,
    in file order; at most ten).
    """

    model: str
    chosen_by: str
    rows: int
    scored: int
    rejected: int
    flagged: int
    output: Path
    rejects: Path
    seconds: float
    reasons: dict[str, int]
    first_rejected: list[int]


def predict_file(
    ref: str,
    input: str | Path,
    output: str | Path,
    *,
    project: ProjectLike = None,
    rejects: str | Path | None = None,
    chunk_rows: int = 100_000,
    out_of_range: OutOfRange = "flag",
    on_error: OnError = "stop",
    progress: Progress | None = None,
) -> BatchResult:
    """Score every row of a Parquet or CSV file with model ``ref`` (``NAME[@VERSION]``).

    ``output`` (``.parquet`` or ``.csv``) gets the predictions, ``rejects`` (default:
    ``<output stem>.rejects.<ext>`` beside it) one row per problem: ``row`` (0-based, in
    file order), ``column``, ``reason`` and ``value`` (the original, as text). A reference
    without a version uses the ``champion`` alias if set, else the newest version. An
    input column missing from the file is an error before anything is written.

    ``on_error="stop"`` (the default) ends at the first row that cannot be scored with a
    :class:`~forgeml.errors.DataError` naming its row, column and reason, and writes
    nothing; ``"skip"`` scores the other rows and lists the bad ones in ``rejects``.
    """
    started = time.perf_counter()
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1, not {chunk_rows}", fix="pass 1 or more")
    if out_of_range not in ("flag", "refuse"):
        raise ConfigError(
            f"out_of_range must be 'flag' or 'refuse', not {out_of_range!r}",
            fix="pass out_of_range='flag' (score and flag) or 'refuse' (reject the row)",
        )
    if on_error not in ("stop", "skip"):
        raise ConfigError(
            f"on_error must be 'stop' or 'skip', not {on_error!r}",
            fix="pass on_error='stop' (end at the first bad row) or 'skip' (reject it and go on)",
        )
    source_path, output_path = Path(input), Path(output)
    rejects_file = Path(rejects) if rejects is not None else rejects_path(output_path)
    _check_paths(source_path, output_path, rejects_file)
    found = resolve_project(project)
    try:
        version, bundle, chosen_by = resolve_model(ref, project=found)
    finally:
        if not isinstance(project, Project):
            found.close()
    scoring = BatchScorer(version, bundle, out_of_range)
    source = open_input(source_path, chunk_rows)
    try:
        counts = _run(scoring, source, output_path, rejects_file, on_error, progress)
    finally:
        source.close()
    return BatchResult(
        model=version.ref,
        chosen_by=chosen_by,
        output=output_path,
        rejects=rejects_file,
        seconds=time.perf_counter() - started,
        **counts,
    )


def _run(
    scoring: BatchScorer,
    source: InputFile,
    output: Path,
    rejects: Path,
    on_error: OnError,
    progress: Progress | None,
) -> dict[str, Any]:
    schema = scoring.schema
    missing = [name for name in schema.names if name not in source.schema.names]
    if missing:
        shown = ", ".join(map(repr, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise DataError(
            f"{source.path} lacks {len(missing)} input column{'s' if len(missing) > 1 else ''} "
            f"of {scoring.version.ref}: {shown}",
            fix=f"add the column(s) to the file; the model reads: {', '.join(schema.names)}",
        )
    passthrough = [f for f in source.schema if f.name not in schema.name_set]
    added = {f.name for f in scoring.fields}
    clash = [f.name for f in passthrough if f.name in added]
    if clash:
        raise DataError(
            f"{source.path} has a column named {clash[0]!r}, which the output adds",
            fix="rename or drop that column in the input file",
        )
    out_schema = pa.schema([*(f.remove_metadata() for f in passthrough), *scoring.fields])
    checker = ChunkChecker(schema, text=source.unit == "bytes", timezones=scoring.timezones)
    out = TableFile(output, out_schema)
    bad = TableFile(rejects, REJECTS_SCHEMA, what="rejects")
    rows = rejected = flagged = 0
    reasons: Counter[str] = Counter()
    first: list[int] = []
    if progress is not None:
        progress(done=0, total=source.total, unit=source.unit, rows=0, rejected=0)
    try:
        for chunk in source.chunks():
            checked = checker.check(chunk.data, chunk.rows)
            scores = None
            if checked.inputs.num_rows:
                checked, scores = scoring.score(checked, chunk.rows)
            refused = _with_broken(checked.rejects, chunk)
            if refused.num_rows and on_error == "stop":
                raise _stopped(source.path, refused)
            if scores is not None and checked.inputs.num_rows:
                everything = bool(checked.keep.all())  # the usual case: no copy
                kept = chunk.data if everything else chunk.data.filter(pa.array(checked.keep))
                columns = [kept.column(f.name) for f in passthrough]
                columns += scoring.columns(checked, scores)
                out.write(pa.Table.from_arrays(columns, schema=out_schema))
            bad.write(refused)
            if len(first) < FIRST_REJECTED and refused.num_rows:
                rows_refused = dict.fromkeys([*first, *refused.column("row").to_pylist()])
                first = list(rows_refused)[:FIRST_REJECTED]
            rows += chunk.data.num_rows + len(chunk.broken)
            rejected += int((~checked.keep).sum()) + len(chunk.broken)
            flagged += len(checked.flags) - checked.flags.null_count
            reasons.update({f"{c}: {r}": n for (c, r), n in checked.reasons.items()})
            reasons.update(f"{BROKEN}: {b.reason}" for b in chunk.broken)
            if progress is not None:
                progress(
                    done=source.done,
                    total=source.total,
                    unit=source.unit,
                    rows=rows,
                    rejected=rejected,
                )
        bad.commit()
        out.commit()  # last: a complete output implies its rejects file is there too
    except BaseException:
        out.discard()
        bad.discard()
        raise
    return {
        "rows": rows,
        "scored": out.rows,
        "rejected": rejected,
        "flagged": flagged,
        "reasons": dict(reasons.most_common()),
        "first_rejected": first,
    }


def _stopped(path: Path, refused: pa.Table) -> DataError:
    """The error that ends a run at its first bad row (``on_error="stop"``)."""
    entry = refused.slice(0, 1).to_pylist()[0]
    column = entry["column"]
    where = "the line" if column == BROKEN else f"column '{column}'"
    return DataError(
        f"row {entry['row']} of {path} cannot be scored: {where} {entry['reason']}; "
        "nothing was written",
        fix="correct that row, or pass --on-error skip (on_error='skip') to score the other "
        "rows and list the rejected ones in the rejects file",
    )


def _with_broken(rejects: pa.Table, chunk: Chunk) -> pa.Table:
    if not chunk.broken:
        return rejects
    broken = pa.table(
        {
            "row": [b.row for b in chunk.broken],
            "column": [BROKEN] * len(chunk.broken),
            "reason": [b.reason for b in chunk.broken],
            "value": [b.text for b in chunk.broken],
        },
        schema=REJECTS_SCHEMA,
    )
    merged = pa.concat_tables([rejects, broken])
    order = np.argsort(merged.column("row").to_numpy(), kind="stable")
    return merged.take(pa.array(order))


def _check_paths(source: Path, output: Path, rejects: Path) -> None:
    same = _same(source, output) or _same(source, rejects)
    if same or _same(output, rejects):
        raise ConfigError(
            f"the input {source}, the output {output} and the rejects file {rejects} "
            "must be three different files",
            fix="write the output and the rejects elsewhere (--output, --rejects)",
        )


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()
