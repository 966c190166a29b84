"""A running run whose heartbeat stopped (its host may be gone) is shown as crashed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from forgeml.project import Project
from forgeml.store.models import RunRecord, utcnow
from forgeml.training.tracking import get_run, list_runs, start_run


def test_a_stale_heartbeat_shows_a_run_as_crashed(sqlite_project: Project) -> None:
    run = start_run(experiment="liveness", project=sqlite_project)
    try:
        assert get_run(run.id, project=sqlite_project).status == "running"
        with sqlite_project.store.write() as session:
            session.execute(
                update(RunRecord)
                .where(RunRecord.id == run.id)
                .values(host="another-machine", heartbeat_at=utcnow() - timedelta(minutes=11))
            )
        assert get_run(run.id, project=sqlite_project).status == "crashed"
        assert [r.id for r in list_runs(project=sqlite_project, status="crashed")] == [run.id]
        assert list_runs(project=sqlite_project, status="running") == []
        with sqlite_project.store.write() as session:
            session.execute(
                update(RunRecord).where(RunRecord.id == run.id).values(heartbeat_at=utcnow())
            )
        assert get_run(run.id, project=sqlite_project).status == "running"
    finally:
        run.finish()
    assert get_run(run.id, project=sqlite_project).status == "finished"
