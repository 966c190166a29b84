"""The metadata store: one object per project that hands out read and write sessions."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from sqlalchemy import Connection, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from forgeml.errors import StoreVersionError
from forgeml.store import migrate
from forgeml.store.engine import WRITE, display_url, make_engine
from forgeml.store.sqlite_pragmas import store_unusable

__all__ = ["MetadataStore", "UpgradePolicy"]

UpgradePolicy = Literal["auto", "check", "none"]  # none: no check on open (db commands)
ENV_AUTO_UPGRADE = "FORGEML_DB_AUTO_UPGRADE"


class MetadataStore:
    """Sessions on the metadata store at ``url``; the schema is checked on open.

    A new, empty database is created at the newest revision. An older schema is upgraded in
    place when ``upgrade="auto"`` (the default for SQLite; PostgreSQL only with
    ``FORGEML_DB_AUTO_UPGRADE=1``), otherwise opening fails and says to run
    ``forgeml db upgrade``.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "forgeml.db"
    >>> store = MetadataStore(f"sqlite:///{path}")
    >>> store.revision() == migrate.head_revision()
    True
    >>> store.close()
    """

    def __init__(self, url: str, *, upgrade: UpgradePolicy | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._writes = sessionmaker(
            bind=self.engine.execution_options(**{WRITE: True}), expire_on_commit=False
        )
        if upgrade is None:
            auto = self.engine.dialect.name == "sqlite" or os.environ.get(ENV_AUTO_UPGRADE) == "1"
            upgrade = "auto" if auto else "check"
        try:
            if upgrade != "none":
                self._check_schema(upgrade)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def display_url(self) -> str:
        return display_url(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never takes the write lock."""
        with self._guard(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose changes commit together or not at all.

        On SQLite the write lock is taken at the start, so concurrent writers queue instead
        of failing on a lock upgrade halfway through.
        """
        with self._guard(), self._writes() as session, session.begin():
            yield session

    def revision(self) -> str | None:
        with self._guard(), self.engine.connect() as connection:
            return migrate.current_revision(connection)

    def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest revision; returns (before, after)."""
        with self._migration() as connection:
            before = migrate.current_revision(connection)
            self._refuse_unknown(before)
            migrate.upgrade(connection)
            return before, migrate.head_revision()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MetadataStore({self.display_url!r})"

    def _check_schema(self, policy: UpgradePolicy) -> None:
        head = migrate.head_revision()
        if self.revision() == head:
            return
        with self._migration() as connection:
            current = migrate.current_revision(connection)
            if current == head:
                return  # another process upgraded while we waited for the lock
            self._refuse_unknown(current)
            empty = current is None and not inspect(connection).get_table_names()
            if not empty and policy != "auto":
                raise StoreVersionError(
                    f"metadata store {self.display_url} is at schema revision {current}, "
                    f"this forgeml needs {head}",
                    fix="run 'forgeml db upgrade' (back the database up first), "
                    f"or set {ENV_AUTO_UPGRADE}=1 to upgrade on open",
                )
            migrate.upgrade(connection)

    def _refuse_unknown(self, revision: str | None) -> None:
        if revision is not None and revision not in migrate.known_revisions():
            raise StoreVersionError(
                f"metadata store {self.display_url} has schema revision {revision}, "
                "which this forgeml does not know: it was written by a newer forgeml",
                fix="upgrade forgeml (pip install -U forgeml) to use this store",
            )

    @contextmanager
    def _migration(self) -> Iterator[Connection]:
        with (
            self._guard(),
            self.engine.execution_options(**{WRITE: True}).connect() as connection,
            connection.begin(),
        ):
            migrate.lock_for_migration(connection)
            yield connection

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as e:
            reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            raise store_unusable(self.display_url, reason) from None
        except SQLAlchemyError:
            raise
