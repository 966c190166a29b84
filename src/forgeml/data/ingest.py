"""Ingest: source → normalised table → validated → DatasetVersion (schema + profile, the
profile holding the validation rules applied and their results)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from forgeml.artifacts.tempfiles import temp_name
from forgeml.data.hashing import content_hash
from forgeml.data.normalize import normalize
from forgeml.data.parquet import BackgroundWrite
from forgeml.data.profile import profile_table
from forgeml.data.schema import infer_schema
from forgeml.data.sources import FileFormat, Loaded, is_sql_url, read_file, read_frame, read_sql
from forgeml.data.validation import Violation, rule_results, validate
from forgeml.data.versions import DatasetVersion, check_name
from forgeml.errors import ConfigError, ValidationFailed
from forgeml.project import ProjectLike, resolve_project, who
from forgeml.store import datasets as queries

__all__ = ["IngestResult", "Progress", "default_name", "ingest", "load_source", "validate_source"]

Progress = Callable[[str], None]


class IngestResult(NamedTuple):
    version: DatasetVersion
    created: bool  # False when identical data was already stored
    separator: str | None = None  # the column separator detected in a CSV file


def ingest(
    source: Any,
    *,
    name: str | None = None,
    project: ProjectLike = None,
    query: str | None = None,
    file_format: FileFormat | None = None,
    encoding: str = "utf-8",
    progress: Progress | None = None,
) -> IngestResult:
    """Store ``source`` as a new version of dataset ``name`` (or return the identical one).

    ``source`` is a file path (CSV, Parquet, JSON lines), a SQLAlchemy URL with ``query``,
    or a pandas / polars DataFrame or Arrow table. The data is validated against the rules
    for ``name`` in ``forgeml.yaml``; on any violation :class:`ValidationFailed` is raised
    and nothing is stored. The version's profile keeps each rule and its result under
    ``validation`` (see :func:`~forgeml.data.validation.rule_results`).
    """
    say = progress or (lambda _stage: None)
    found = resolve_project(project)
    name = check_name(default_name(source) if name is None else name)
    say("reading")
    table = load_source(source, query=query, file_format=file_format, encoding=encoding)
    say("validating")
    rules = found.spec.dataset(name).validation
    violations = validate(table.table, rules)
    if violations:
        raise ValidationFailed(name, violations)
    say("writing, hashing and profiling")
    tmp = found.tmp_dir / temp_name(".parquet")
    try:
        with BackgroundWrite(table.table, tmp) as write:
            digest = content_hash(table.table)
            with found.store.read() as session:
                existing = queries.find_by_content(session, name, digest)
                if existing is not None:
                    return IngestResult(
                        DatasetVersion.from_record(existing, name, found), False, table.separator
                    )
            profile = profile_table(table.table)
            schema = infer_schema(table.table, profile)
            profile["validation"] = rule_results(rules, violations)
            size = write.result().stat().st_size
        say("storing")
        sha = found.artifacts.put_file(tmp, move=True)
    finally:
        tmp.unlink(missing_ok=True)
    with found.store.write() as session:
        record, created = queries.add_version(
            session,
            name=name,
            content_hash=digest,
            artifact_sha256=sha,
            size_bytes=size,
            n_rows=table.table.num_rows,
            n_columns=table.table.num_columns,
            schema=schema,
            profile=profile,
            source=table.source,
            created_by=who(),
        )
        return IngestResult(
            DatasetVersion.from_record(record, name, found), created, table.separator
        )


def validate_source(
    source: Any,
    *,
    name: str,
    project: ProjectLike = None,
    query: str | None = None,
    file_format: FileFormat | None = None,
    encoding: str = "utf-8",
) -> list[Violation]:
    """Check ``source`` against the rules for dataset ``name`` without storing anything."""
    found = resolve_project(project)
    table = load_source(source, query=query, file_format=file_format, encoding=encoding)
    return validate(table.table, found.spec.dataset(check_name(name)).validation)


def load_source(
    source: Any,
    *,
    query: str | None = None,
    file_format: FileFormat | None = None,
    encoding: str = "utf-8",
) -> Loaded:
    """Read any supported source and normalise it."""
    if isinstance(source, str) and is_sql_url(source):
        if not query:
            raise ConfigError(
                "a SQL source needs a query",
                fix="pass --query 'SELECT ...' (or query=... in Python)",
            )
        loaded = read_sql(source, query)
    elif isinstance(source, str | os.PathLike):
        loaded = read_file(source, file_format=file_format, encoding=encoding)
    else:
        loaded = read_frame(source)
    return Loaded(normalize(loaded.table), loaded.source, loaded.separator)


def default_name(source: Any) -> str:
    if isinstance(source, str | os.PathLike) and not (
        isinstance(source, str) and is_sql_url(source)
    ):
        stem = Path(source).name.split(".", 1)[0]
        if stem:
            return stem
    raise ConfigError(
        "this source has no file name to name the dataset after",
        fix="pass --name NAME (or name=... in Python)",
    )
