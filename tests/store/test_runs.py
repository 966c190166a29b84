"""Run queries on both backends: rows in, rows out, and no change to an ended run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from forgeml.errors import ConfigError, ForgemlError, NotFound
from forgeml.store import MetadataStore
from forgeml.store import datasets as dataset_queries
from forgeml.store import runs as queries
from forgeml.store.models import utcnow
from support import record_version


def _run(
    run_id: str, *, experiment: str = "e", minutes_ago: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "id": run_id,
        "experiment": experiment,
        "kind": "train",
        "params": {},
        "tags": {},
        "metrics": {},
        "code_version": {},
        "packages": {},
        "host": "h",
        "created_by": "u@h",
        "started_at": utcnow() - timedelta(minutes=minutes_ago),
        **extra,
    }


@pytest.fixture
def store(db_url: str) -> Any:
    with MetadataStore(db_url) as opened:
        yield opened


def test_points_go_in_as_one_batch_and_come_back_by_step(store: MetadataStore) -> None:
    run_id = "a" * 32
    with store.write() as session:
        queries.create_run(session, **_run(run_id))
        queries.append_metrics(
            session,
            [
                {"run_id": run_id, "key": "loss", "step": s, "value": v, "logged_at": 1.0}
                for s, v in ((2, 0.3), (0, 0.9), (1, None), (2**40, 0.1))
            ],
        )
        queries.append_metrics(session, [])  # nothing to write is fine
    with store.read() as session:
        assert queries.metric_history(session, run_id, "loss") == [
            (0, 0.9),
            (1, None),
            (2, 0.3),
            (2**40, 0.1),
        ]
        assert queries.metric_history(session, run_id, "auc") == []


def test_an_ended_run_cannot_be_updated_or_ended_again(store: MetadataStore) -> None:
    run_id = "b" * 32
    with store.write() as session:
        queries.create_run(session, **_run(run_id))
        queries.update_running(session, run_id, params={"lr": 0.1})
        ended = queries.end_run(session, run_id, status="failed", error="boom")
    with store.read() as session:
        row = queries.get_run(session, run_id)
    assert (row.status, row.error, row.ended_at, row.params) == (
        "failed",
        "boom",
        ended,
        {"lr": 0.1},
    )
    with store.write() as session, pytest.raises(ForgemlError, match="is failed: a finished"):
        queries.update_running(session, run_id, params={"lr": 0.2})
    with store.write() as session, pytest.raises(ForgemlError, match="is failed"):
        queries.end_run(session, run_id, status="finished")
    with store.write() as session, pytest.raises(ForgemlError, match="is failed"):
        queries.add_artifact(session, run_id, "late.txt", "c" * 64, 1)
    with store.write() as session, pytest.raises(NotFound, match="no run with id"):
        queries.update_running(session, "d" * 32, params={})
    with store.read() as session:
        assert queries.get_run(session, run_id).params == {"lr": 0.1}


def test_artifacts_and_dataset_lineage_are_read_back(store: MetadataStore) -> None:
    record_version(store, "credit", "e" * 64)
    with store.read() as session:
        version_id = dataset_queries.get_version(session, "credit").id
    with store.write() as session:
        queries.create_run(session, **_run("1" * 32, dataset_version_id=version_id))
        queries.create_run(session, **_run("2" * 32))
        queries.add_artifact(session, "1" * 32, "model.bin", "f" * 64, 10)
        queries.add_artifact(session, "1" * 32, "model.bin", "f" * 64, 10)  # same again: no-op
        queries.add_artifact(session, "1" * 32, "card.md", "e" * 64, 1)  # a stored blob
    with store.write() as session, pytest.raises(ConfigError, match="already has an artifact"):
        queries.add_artifact(session, "1" * 32, "model.bin", "0" * 64, 10)
    with store.read() as session:
        assert queries.artifacts_of(session, ["1" * 32, "2" * 32]) == {
            "1" * 32: {"card.md": "e" * 64, "model.bin": "f" * 64},
            "2" * 32: {},
        }
        assert queries.dataset_refs(session, [version_id, None]) == {version_id: "credit@1"}
        assert queries.dataset_refs(session, [None]) == {}


def test_list_runs_orders_filters_and_limits(store: MetadataStore) -> None:
    with store.write() as session:
        for i, (experiment, minutes_ago) in enumerate((("a", 30), ("b", 20), ("a", 10))):
            queries.create_run(
                session, **_run(str(i) * 32, experiment=experiment, minutes_ago=minutes_ago)
            )
        queries.end_run(session, "1" * 32, status="finished")
    with store.read() as session:
        assert [r.id[0] for r in queries.list_runs(session)] == ["2", "1", "0"]
        assert [r.id[0] for r in queries.list_runs(session, experiment="a")] == ["2", "0"]
        assert [r.id[0] for r in queries.list_runs(session, status="finished")] == ["1"]
        assert [r.id[0] for r in queries.list_runs(session, status="running", limit=1)] == ["2"]
        with pytest.raises(ConfigError, match="limit must be at least 1"):
            queries.list_runs(session, limit=0)


def test_prefixes_resolve_only_when_unique(store: MetadataStore) -> None:
    ids = [f"cafe00{i}" + "0" * 25 for i in range(6)]
    with store.write() as session:
        for run_id in ids:
            queries.create_run(session, **_run(run_id))
    with store.read() as session:
        assert queries.get_run(session, "cafe003").id == ids[3]
        assert queries.get_run(session, ids[4].upper()).id == ids[4]
        with pytest.raises(
            NotFound, match=r"matches cafe000000, cafe001000, cafe002000, cafe003000 and more"
        ):
            queries.get_run(session, "cafe00")
        with pytest.raises(NotFound, match="too short"):
            queries.get_run(session, "cafe")
