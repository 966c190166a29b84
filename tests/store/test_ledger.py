"""The pipeline ledger: the plain sqlite3 one and the one on the store's sessions write the
same rows, find the same cached steps and fail the same way."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from forgeml.errors import NotFound
from forgeml.project import Project
from forgeml.store import MetadataStore, migrate
from forgeml.store import pipelines as queries
from forgeml.store.ledger import CachedStep, PipelineLedger, open_ledger
from forgeml.store.ledger_orm import StoreLedger
from forgeml.store.ledger_sqlite import SqliteLedger, sqlite_path

RUN = "ab" * 16


@pytest.fixture(params=["sqlite3", "sessions"])
def ledger(request: pytest.FixtureRequest, sqlite_project: Project) -> PipelineLedger:
    if request.param == "sqlite3":
        assert isinstance(sqlite_project.ledger, SqliteLedger)  # a SQLite store's default
        return sqlite_project.ledger
    return StoreLedger(sqlite_project.store)


def test_a_run_and_its_steps_read_back_through_the_store(
    ledger: PipelineLedger, sqlite_project: Project
) -> None:
    ledger.start_run(RUN, "demo", "local", {"from": None, "force": False}, "me@host")
    ran = ledger.start_step(RUN, "load", "m:load", "k1", {"params": {"a": 1}})
    ledger.finish_step(ran, "succeeded", attempts=2, outputs={"n": 3})
    ledger.start_step(RUN, "copy", "m:load", "k1", {}, status="cached", outputs={"n": 3})
    broken = ledger.start_step(RUN, "side", "m:side", "k2", {})
    ledger.finish_step(broken, "failed", attempts=1, error="RuntimeError: gone")
    ledger.finish_run(RUN, "failed", "RuntimeError: gone")

    with sqlite_project.store.read() as session:
        row = queries.get_run(session, RUN[:8])
        assert (row.pipeline, row.status, row.executor, row.created_by, row.error) == (
            "demo",
            "failed",
            "local",
            "me@host",
            "RuntimeError: gone",
        )
        assert row.options == {"from": None, "force": False}
        assert row.started_at.tzinfo == UTC and row.finished_at is not None
        assert row.finished_at >= row.started_at and (row.seconds or 0) >= 0
        assert [(s.step, s.status, s.attempts, s.outputs, s.error) for s in row.steps] == [
            ("load", "succeeded", 2, {"n": 3}, None),
            ("copy", "cached", 0, {"n": 3}, None),
            ("side", "failed", 1, None, "RuntimeError: gone"),
        ]
        assert row.steps[0].inputs == {"params": {"a": 1}}
        assert row.steps[1].finished_at == row.steps[1].started_at and row.steps[1].seconds == 0
    expected = CachedStep({"n": 3}, RUN)
    assert ledger.cached_step("k1") == expected
    assert StoreLedger(sqlite_project.store).cached_step("k1") == expected  # one history
    assert ledger.cached_step("k2") is None  # failed: never reused
    assert ledger.cached_step("missing") is None


def test_a_missing_dataset_or_model_is_a_clear_not_found(ledger: PipelineLedger) -> None:
    with pytest.raises(NotFound, match="no dataset named 'credit'"):
        ledger.dataset_version("credit", None)
    with pytest.raises(NotFound, match="no model named 'credit'"):
        ledger.model_version("credit", "champion")


def test_a_store_at_an_older_revision_is_upgraded_before_the_plain_ledger_uses_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "forgeml.db"
    url = f"sqlite:///{path}"
    with MetadataStore(url) as store, store.engine.begin() as connection:
        migrate.downgrade(connection, "-1")
    assert SqliteLedger.open(path, lambda: MetadataStore(url)) is None
    opened: list[MetadataStore] = []

    def full_store() -> MetadataStore:
        opened.append(MetadataStore(url))
        return opened[-1]

    ledger = open_ledger(url, full_store)
    try:
        assert isinstance(ledger, SqliteLedger) and len(opened) == 1
        assert opened[0].revision() == migrate.head_revision()
    finally:
        ledger.close()
        opened[0].close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/ml/forgeml.db", Path("/srv/ml/forgeml.db")),
        ("sqlite:///relative.db", Path("relative.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:db?mode=ro&uri=true", None),
        ("postgresql+psycopg://ml@db/forgeml", None),
    ],
)
def test_only_a_plain_sqlite_file_url_gets_the_plain_ledger(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


def test_each_backend_gets_its_ledger_and_finds_a_cached_step(project: Project) -> None:
    plain = sqlite_path(project.settings.db_url) is not None
    assert isinstance(project.ledger, SqliteLedger if plain else StoreLedger)
    project.ledger.start_run(RUN, "demo", "local", {}, "me@host")
    project.ledger.start_step(RUN, "load", "m:load", "k1", {}, status="succeeded", outputs={})
    project.ledger.finish_run(RUN, "succeeded")
    assert project.ledger.cached_step("k1") == CachedStep({}, RUN)
