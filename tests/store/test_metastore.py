"""The metadata store opens, migrates and refuses what it cannot use, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from forgeml.errors import ConfigError, StoreError, StoreVersionError
from forgeml.store import MetadataStore, migrate
from forgeml.store import datasets as queries
from forgeml.store.models import Base, DatasetRecord
from support import record_version


def test_new_store_is_created_at_the_newest_revision(db_url: str) -> None:
    with MetadataStore(db_url) as store:
        assert store.revision() == migrate.head_revision()


def test_migrations_produce_exactly_the_models(db_url: str) -> None:
    with MetadataStore(db_url) as store, store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


@pytest.mark.parametrize("start", [None, *migrate.known_revisions()[:-1]])
def test_older_store_upgrades_in_place_keeping_its_rows(db_url: str, start: str | None) -> None:
    with MetadataStore(db_url) as store:
        record_version(store, "kept", "a" * 64)
        with store.engine.begin() as connection:
            migrate.downgrade(connection, start or "base")
            migrate.upgrade(connection, start) if start else None
    reopened = MetadataStore(db_url, upgrade="auto")
    try:
        assert reopened.revision() == migrate.head_revision()
        if start is not None:  # a downgrade to base drops everything by definition
            with reopened.read() as session:
                assert queries.get_version(session, "kept").content_hash == "a" * 64
    finally:
        reopened.close()


def test_outdated_store_with_check_policy_names_the_upgrade_command(db_url: str) -> None:
    with MetadataStore(db_url) as store, store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with pytest.raises(StoreVersionError, match="newer forgeml"):
        MetadataStore(db_url, upgrade="check")


def test_store_behind_with_check_policy_refuses_and_says_how(db_url: str) -> None:
    with MetadataStore(db_url) as store, store.engine.begin() as connection:
        migrate.downgrade(connection, "base")
        connection.execute(text("CREATE TABLE user_table (x INTEGER)"))
    with pytest.raises(StoreVersionError) as info:
        MetadataStore(db_url, upgrade="check")
    assert "forgeml db upgrade" in str(info.value)
    with MetadataStore(db_url, upgrade="auto") as store:
        before, after = store.upgrade()
        assert (before, after) == (migrate.head_revision(), migrate.head_revision())


def test_timestamps_come_back_timezone_aware_utc(db_url: str) -> None:
    with MetadataStore(db_url) as store:
        record_version(store, "ts", "b" * 64)
        with store.read() as session:
            created = queries.get_version(session, "ts").created_at
    assert created.tzinfo is not None
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_failed_write_leaves_nothing_behind(db_url: str) -> None:
    def crash_midway(store: MetadataStore) -> None:
        with store.write() as session:
            session.add(DatasetRecord(name="half", created_at=datetime.now(UTC)))
            session.flush()
            raise RuntimeError("crash in the middle")

    with MetadataStore(db_url) as store:
        with pytest.raises(RuntimeError, match="crash in the middle"):
            crash_midway(store)
        with store.read() as session:
            assert queries.list_datasets(session) == []
            assert session.query(DatasetRecord).count() == 0


def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    url = "postgresql+psycopg://forgeml:hunter2@127.0.0.1:1/forgeml?connect_timeout=2"
    with pytest.raises(StoreError) as info:
        MetadataStore(url)
    message = str(info.value)
    assert "hunter2" not in message
    assert "127.0.0.1:1" in message
    assert "fix:" in message


@pytest.mark.parametrize("url", ["not a url", "mongodb://localhost/x"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        MetadataStore(url)


def test_sqlite_store_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    with MetadataStore(f"sqlite:///{tmp_path / 'x.db'}") as store, store.read() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_head_constant_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "forgeml.store:migrations")
    assert ScriptDirectory.from_config(cfg).get_current_head() == migrate.HEAD_REVISION
    assert migrate.known_revisions()[-1] == migrate.HEAD_REVISION
