"""Several processes logging to their own runs in one project lose nothing."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from forgeml.project import Project
from forgeml.training import tracking
from forgeml.training.tracking import get_run, list_runs, metric_history, start_run

PROCESSES = 2
POINTS = 3000


def _train(root: Path, worker: int) -> None:
    tracking.FLUSH_POINTS = 100  # many small batches, so the writers interleave
    with (
        Project.load(root) as project,
        start_run(experiment="parallel", project=project, params={"worker": worker}) as run,
    ):
        for step in range(POINTS):
            run.log_metric("loss", worker + step / POINTS, step=step)
            if step % 500 == 0:
                run.set_tag("progress", step)


def test_processes_logging_to_their_own_runs_lose_nothing(project: Project) -> None:
    root = project.root
    project.close()  # children open their own connections
    context = mp.get_context("fork")
    workers = [context.Process(target=_train, args=(root, w)) for w in range(PROCESSES)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    runs = list_runs(project=project, experiment="parallel")
    assert sorted(r.params["worker"] for r in runs) == list(range(PROCESSES))
    for run in runs:
        worker = run.params["worker"]
        assert run.status == "finished" and run.tags == {"progress": 2500}
        expected = [(step, worker + step / POINTS) for step in range(POINTS)]
        assert metric_history(run.id, "loss", project=project) == expected
        assert get_run(run.id, project=project).metrics == {"loss": expected[-1][1]}
