"""The rows behind a feature view, opened as a DuckDB relation, and the version they came from.

A view's ``source`` names a forgeml dataset, read at a recorded version (``transactions@3``
pins one; a bare name means the latest at the time of reading, and the version read is
recorded). A ``query`` is DuckDB SQL over the project's datasets, each visible under its name.
Tables given in Python (``tables={"transactions": frame}``) take the place of datasets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError
from forgeml.featurestore.definitions import FeatureView

if TYPE_CHECKING:
    import duckdb

    from forgeml.project import ProjectLike

__all__ = ["POSITION", "SourceReader", "Table", "quote", "quote_literal"]

POSITION = "__pos"
"""The column holding each source row's position: among equal timestamps a later row wins."""

Table = Any  # a pandas DataFrame, a pyarrow Table, or the path of a Parquet file


def quote(name: str) -> str:
    """A SQL identifier, quoted: ``a"b`` → ``"a""b"``."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass
class SourceReader:
    """Opens view sources in one DuckDB connection, each dataset once, and records versions."""

    con: duckdb.DuckDBPyConnection
    project: ProjectLike = None
    tables: Mapping[str, Table] | None = None

    def __post_init__(self) -> None:
        self.versions: dict[str, str] = {}  # dataset name -> the ref read, e.g. credit@3
        self._opened: dict[str, str] = {}  # dataset ref -> relation name
        self._count = 0

    def relation(self, view: FeatureView) -> str:
        """The name of a relation with the view's rows and a :data:`POSITION` column."""
        if view.source is not None:
            return self._dataset(view.source)
        assert view.query is not None  # FeatureView guarantees one of the two
        visible = self._all_datasets()
        name = self._next()
        import duckdb

        try:
            self.con.execute(
                f"CREATE TEMP VIEW {name} AS SELECT *, "
                f"(row_number() OVER () - 1) AS {POSITION} FROM ({view.query})"
            )
        except duckdb.Error as e:
            first_line = str(e).splitlines()[0]
            raise ConfigError(
                f"feature view {view.name!r}: its query failed: {first_line}",
                fix="fix the query; it can read these tables by name: "
                + (", ".join(visible) or "none (ingest a dataset first)"),
            ) from e
        self.versions[f"query:{view.name}"] = view.query
        return name

    def _next(self) -> str:
        self._count += 1
        return f"__source_{self._count}"

    def _dataset(self, ref: str) -> str:
        if ref in self._opened:
            return self._opened[ref]
        name = self._next()
        table = (self.tables or {}).get(ref)
        if isinstance(table, str | Path):
            self._parquet(name, str(table))
            self.versions[ref] = ref
        elif table is not None:
            self._register(name, table)
            self.versions[ref] = ref
        else:
            path, read = self._dataset_path(ref)
            self._parquet(name, path)
            self.versions[ref.partition("@")[0]] = read
        self._opened[ref] = name
        return name

    def _parquet(self, name: str, path: str) -> None:
        """A Parquet file, scanned by DuckDB as needed (never loaded whole)."""
        self.con.execute(
            f"CREATE TEMP VIEW {name} AS SELECT * EXCLUDE (file_row_number), "
            f"file_row_number AS {POSITION} "
            f"FROM read_parquet({quote_literal(path)}, file_row_number = true)"
        )

    def _register(self, name: str, table: Table) -> None:
        import pyarrow as pa

        if isinstance(table, pa.Table):
            arrow = table
        else:
            arrow = pa.Table.from_pandas(table, preserve_index=False)
        arrow = arrow.append_column(POSITION, pa.array(range(arrow.num_rows), pa.int64()))
        self.con.register(f"{name}_arrow", arrow)
        self.con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {name}_arrow")

    def _dataset_path(self, ref: str) -> tuple[str, str]:
        from forgeml.data.versions import dataset
        from forgeml.project import resolve_project

        project = resolve_project(self.project)
        found = dataset(ref, project=project)
        return str(project.artifacts.local_path(found.artifact_sha256)), found.ref

    def _all_datasets(self) -> list[str]:
        """Every dataset visible under its own name, for a view defined by a query."""
        names = list(self.tables or {})
        if self.project is not None or not names:
            from forgeml.data.versions import list_datasets

            try:
                names += [d.name for d in list_datasets(project=self.project)]
            except ConfigError:
                if not names:
                    raise
        visible = list(dict.fromkeys(names))
        for dataset_name in visible:
            relation = self._dataset(dataset_name)
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW {quote(dataset_name)} AS "
                f"SELECT * EXCLUDE ({POSITION}) FROM {relation}"
            )
        return visible
