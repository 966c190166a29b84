"""Tracked runs record what went in and what came out, in batches, and never change after."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.data import ingest
from forgeml.errors import ArtifactError, ConfigError, ForgemlError, NotFound
from forgeml.project import Project
from forgeml.store import runs as run_queries
from forgeml.store.models import utcnow
from forgeml.training import tracking
from forgeml.training.environment import package_versions
from forgeml.training.tracking import get_run, list_runs, metric_history, start_run


@pytest.fixture
def no_timed_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the point count (or an explicit call) writes points, however slow the machine."""
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 3600.0)


def test_a_run_records_params_metrics_tags_artifacts_and_lineage(
    project: Project, tmp_path: Path
) -> None:
    data = ingest(pa.table({"x": [1, 2, 3], "y": [0, 1, 0]}), name="credit", project=project)
    model_file = tmp_path / "model.txt"
    model_file.write_bytes(b"tree 1\ntree 2\n")
    with start_run(
        experiment="credit-lgbm",
        project=project,
        dataset=data.version,
        params={"learning_rate": 0.05, "features": ["x"]},
        tags={"stage": "dev"},
    ) as run:
        run.log_param("num_leaves", np.int64(31))
        run.log_params({"subsample": np.float32(0.5), "objective": "binary"})
        run.log_metric("auc", 0.71, step=10)
        run.log_metric("auc", 0.74, step=20)
        run.log_metrics({"loss": 0.5, "accuracy": 0.8})
        run.log_metrics({"loss": 0.4, "accuracy": 0.82})
        run.set_tag("stage", "review")
        report_sha = run.log_artifact("report.json", b'{"ok": true}')
        model_sha = run.log_artifact("model/model.txt", model_file)
        assert run.status == "running"

    info = get_run(run.id, project=project)
    assert info.status == "finished" and info.error is None
    assert info.experiment == "credit-lgbm" and info.kind == "train"
    assert info.params == {
        "learning_rate": 0.05,
        "features": ["x"],
        "num_leaves": 31,
        "subsample": 0.5,
        "objective": "binary",
    }
    assert info.tags == {"stage": "review"}
    assert info.metrics == {"accuracy": 0.82, "auc": 0.74, "loss": 0.4}
    assert metric_history(run.id, "auc", project=project) == [(10, 0.71), (20, 0.74)]
    assert metric_history(run.id, "loss", project=project) == [(0, 0.5), (1, 0.4)]
    assert info.artifacts == {"model/model.txt": model_sha, "report.json": report_sha}
    assert project.artifacts.get_bytes(model_sha) == b"tree 1\ntree 2\n"
    assert project.artifacts.get_bytes(report_sha) == b'{"ok": true}'
    assert info.dataset == "credit@1"
    assert info.packages == package_versions() and info.packages["numpy"] == np.__version__
    assert info.host and "@" in info.created_by
    assert info.ended_at is not None and info.started_at <= info.ended_at <= utcnow()
    assert info.duration_s is not None and info.duration_s >= 0
    assert len(run.id) == 32 and int(run.id, 16) >= 0


def test_finish_returns_what_the_store_holds(project: Project) -> None:
    run = start_run(experiment="e", project=project, params={"a": 1})
    run.log_metric("m", 1.5)
    run.log_artifact("notes.txt", b"hello")
    returned = run.finish()
    assert returned == get_run(run.id, project=project)


def test_ten_thousand_points_are_stored_exactly_in_step_order(project: Project) -> None:
    values = [math.sin(i / 100) for i in range(10_000)]
    with start_run(experiment="long", project=project) as run:
        for i, value in enumerate(values):
            run.log_metric("train_loss", value, step=i)
            if i % 10 == 0:
                run.log_metric("val_loss", -value)  # counted steps: 0, 1, 2, ...
    history = metric_history(run.id, "train_loss", project=project)
    assert history == list(enumerate(values))
    val = metric_history(run.id, "val_loss", project=project)
    assert val == [(n, -values[n * 10]) for n in range(1000)]
    assert get_run(run.id, project=project).metrics == {
        "train_loss": values[-1],
        "val_loss": -values[9990],
    }


def test_points_are_written_in_batches_not_one_by_one(
    project: Project, no_timed_flush: None
) -> None:
    run = start_run(experiment="batches", project=project)
    for i in range(tracking.FLUSH_POINTS - 1):
        run.log_metric("loss", 1.0 / (i + 1))
    assert get_run(run.id, project=project).metrics == {}  # all still in memory
    run.log_metric("loss", 0.0)  # the batch is full: one write
    assert len(metric_history(run.id, "loss", project=project)) == tracking.FLUSH_POINTS
    run.log_metric("loss", 0.5)
    assert len(metric_history(run.id, "loss", project=project)) == tracking.FLUSH_POINTS
    run.flush()
    assert len(metric_history(run.id, "loss", project=project)) == tracking.FLUSH_POINTS + 1
    run.finish()


def test_points_older_than_the_flush_interval_are_written_on_the_next_call(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "FLUSH_SECONDS", 0.0)
    run = start_run(experiment="slow-epochs", project=sqlite_project)
    run.log_metric("loss", 0.9)
    run.log_param("epochs", 3)
    assert metric_history(run.id, "loss", project=sqlite_project) == [(0, 0.9)]
    assert get_run(run.id, project=sqlite_project).params == {"epochs": 3}
    run.finish()


def test_buffered_points_params_and_tags_are_written_on_finish(
    project: Project, no_timed_flush: None
) -> None:
    run = start_run(experiment="e", project=project)
    for step in range(5):
        run.log_metric("loss", 1.0 - step / 10, step=step)
    run.log_param("depth", 6)
    run.set_tag("owner", "ml")
    assert get_run(run.id, project=project).params == {}
    run.finish()
    info = get_run(run.id, project=project)
    assert info.params == {"depth": 6} and info.tags == {"owner": "ml"}
    assert metric_history(run.id, "loss", project=project) == [(s, 1.0 - s / 10) for s in range(5)]


def _train_and_crash(run: tracking.Run) -> None:
    for step in range(7):
        run.log_metric("loss", 1.0 / (step + 1))
    raise ValueError("features and labels have different lengths")


def test_an_exception_fails_the_run_keeps_its_points_and_propagates(
    project: Project, no_timed_flush: None
) -> None:
    with (
        pytest.raises(ValueError, match="different lengths"),
        start_run(experiment="e", project=project, params={"lr": 0.1}) as run,
    ):
        _train_and_crash(run)
    info = get_run(run.id, project=project)
    assert info.status == "failed" and info.ended_at is not None
    assert info.error is not None
    assert info.error.startswith("ValueError: features and labels have different lengths")
    assert "Traceback (most recent call last):" in info.error
    assert "_train_and_crash" in info.error
    assert len(metric_history(run.id, "loss", project=project)) == 7
    assert info.params == {"lr": 0.1}


def test_interrupting_a_run_fails_it(sqlite_project: Project) -> None:
    with pytest.raises(KeyboardInterrupt), start_run(experiment="e", project=sqlite_project) as run:
        raise KeyboardInterrupt
    info = get_run(run.id, project=sqlite_project)
    assert info.status == "failed"
    assert info.error is not None
    assert info.error.startswith("KeyboardInterrupt\nTraceback (most recent call last):\n")


def test_a_long_error_is_cut_to_a_readable_size(sqlite_project: Project) -> None:
    source = "def f0():\n    raise RuntimeError('x' * 5000)\n" + "".join(
        f"def f{i}():\n    f{i - 1}()\n" for i in range(1, 40)
    )
    deep: dict[str, Any] = {}
    exec(source, deep)  # 40 distinct frames deep
    run = start_run(experiment="e", project=sqlite_project)
    try:
        deep["f39"]()
    except RuntimeError as error:
        failed = run.fail(error)
    assert failed.error is not None and len(failed.error) <= tracking.MAX_ERROR_CHARS
    first, *rest = failed.error.splitlines()
    assert first.startswith("RuntimeError: xxx") and first.endswith("…")
    assert rest[1].endswith("earlier lines left out")
    assert len(rest) == 2 + tracking.TRACEBACK_LINES
    assert rest[-1].endswith("in f0")  # the frame that raised is kept
    by_text = start_run(experiment="e", project=sqlite_project).fail("y" * 10_000)
    assert by_text.error == "y" * (tracking.MAX_ERROR_CHARS - 1) + "…"


def test_a_finished_or_failed_run_refuses_any_change(project: Project) -> None:
    finished = start_run(experiment="e", project=project)
    finished.log_metric("m", 1.0)
    finished.finish()
    failed = start_run(experiment="e", project=project)
    failed.fail("stopped by hand")
    for run, status in ((finished, "finished"), (failed, "failed")):
        for attempt in _every_change(run):
            with pytest.raises(ForgemlError, match=f"is {status}: a finished or failed run"):
                attempt()
    assert metric_history(finished.id, "m", project=project) == [(0, 1.0)]
    assert get_run(failed.id, project=project).error == "stopped by hand"
    # the store refuses too, whoever asks
    with project.store.write() as session, pytest.raises(ForgemlError, match="is finished"):
        run_queries.update_running(session, finished.id, params={"p": 1})


def _every_change(run: tracking.Run) -> list[Callable[[], object]]:
    return [
        lambda: run.log_metric("m", 2.0),
        lambda: run.log_metrics({"m": 2.0}),
        lambda: run.log_param("p", 1),
        lambda: run.log_params({"p": 1}),
        lambda: run.set_tag("t", 1),
        lambda: run.log_artifact("a", b"x"),
        run.flush,
        run.finish,
        lambda: run.fail("again"),
    ]


def test_finishing_inside_the_block_is_kept(sqlite_project: Project) -> None:
    with start_run(experiment="e", project=sqlite_project) as run:
        run.log_metric("m", 1.0)
        finished = run.finish()
    assert finished.status == "finished"
    assert get_run(run.id, project=sqlite_project) == finished


def test_non_finite_values_are_stored_as_null(project: Project) -> None:
    with start_run(experiment="e", project=project) as run:
        for value in (0.5, float("nan"), float("inf"), -math.inf, np.float32("nan"), None, 2):
            run.log_metric("loss", value)  # type: ignore[arg-type]
        run.log_metric("grad_norm", float("nan"))
        run.log_param("alpha", float("inf"))
    history = metric_history(run.id, "loss", project=project)
    assert history == [(0, 0.5), (1, None), (2, None), (3, None), (4, None), (5, None), (6, 2.0)]
    info = get_run(run.id, project=project)
    assert info.metrics == {"grad_norm": None, "loss": 2.0}
    assert info.params == {"alpha": "inf"}


def test_the_last_value_is_the_one_at_the_highest_step(sqlite_project: Project) -> None:
    with start_run(experiment="e", project=sqlite_project) as run:
        run.log_metric("auc", 0.9, step=5)
        run.log_metric("auc", 0.7, step=2)  # a late point for an earlier step
        run.log_metric("auc", 0.8)  # counted on from the highest step: 6
    assert metric_history(run.id, "auc", project=sqlite_project) == [(2, 0.7), (5, 0.9), (6, 0.8)]
    assert get_run(run.id, project=sqlite_project).metrics == {"auc": 0.8}


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is empty"),
        ("a" * 201, "is 201 characters long"),
        ("val\nloss", "contains a control character"),
        (7, "is of type int, not a string"),
    ],
)
def test_bad_keys_are_refused_by_name(sqlite_project: Project, key: object, problem: str) -> None:
    run = start_run(experiment="e", project=sqlite_project)
    for attempt, what in (
        (lambda: run.log_metric(key, 1.0), "metric"),  # type: ignore[arg-type]
        (lambda: run.log_param(key, 1), "param"),  # type: ignore[arg-type]
        (lambda: run.set_tag(key, 1), "tag"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match=f"^{what} name .*{problem}") as caught:
            attempt()
        assert caught.value.fix
    with pytest.raises(ConfigError, match="experiment name"):
        start_run(experiment=key, project=sqlite_project)  # type: ignore[arg-type]
    assert run.finish().metrics == {}


def test_bad_values_steps_and_changed_params_are_refused(sqlite_project: Project) -> None:
    run = start_run(experiment="e", project=sqlite_project, params={"lr": 0.1})
    with pytest.raises(ConfigError, match="metric 'auc' got 'high', which is not a number"):
        run.log_metric("auc", "high")  # type: ignore[arg-type]
    for step in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="is not a whole number from 0"):
            run.log_metric("auc", 0.5, step=step)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"param 'model' is a object"):
        run.log_param("model", object())
    with pytest.raises(ConfigError, match=r"param 'lr' of run \w+ is already 0\.1"):
        run.log_param("lr", 0.2)
    run.log_param("lr", 0.1)  # the same value again is fine
    run.log_metric("auc", 0.5, step=np.int64(3))
    with pytest.raises(ConfigError, match="not a valid run kind"):
        start_run(experiment="e", project=sqlite_project, kind="Train Job")
    info = run.finish()
    assert info.params == {"lr": 0.1} and info.metrics == {"auc": 0.5}


def test_a_refused_batch_records_none_of_its_entries(sqlite_project: Project) -> None:
    run = start_run(experiment="e", project=sqlite_project, params={"lr": 0.1})
    with pytest.raises(ConfigError, match="metric 'auc' got 'n/a'"):
        run.log_metrics({"loss": 0.5, "auc": "n/a"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="param 'lr' of run"):
        run.log_params({"depth": 6, "lr": 0.2})
    run.log_metrics({"loss": 0.4})
    info = run.finish()
    assert info.params == {"lr": 0.1} and info.metrics == {"loss": 0.4}
    assert metric_history(run.id, "loss", project=sqlite_project) == [(0, 0.4)]


def test_artifact_names_are_write_once(sqlite_project: Project, tmp_path: Path) -> None:
    run = start_run(experiment="e", project=sqlite_project)
    first = run.log_artifact("model.bin", b"v1")
    assert run.log_artifact("model.bin", bytearray(b"v1")) == first  # same bytes: no-op
    with pytest.raises(ConfigError, match=r"already has an artifact named 'model\.bin'"):
        run.log_artifact("model.bin", b"v2")
    with pytest.raises(ArtifactError, match="does not exist"):
        run.log_artifact("missing", str(tmp_path / "nope.bin"))
    assert run.finish().artifacts == {"model.bin": first}
    assert get_run(run.id, project=sqlite_project).artifacts == {"model.bin": first}


def test_a_dataset_version_from_another_project_is_refused(
    sqlite_project: Project, tmp_path: Path
) -> None:
    other = Project.init(tmp_path / "other", name="other")
    try:
        theirs = ingest(pa.table({"x": [1, 2]}), name="credit", project=other).version
    finally:
        other.close()
    ingest(pa.table({"x": [3, 4]}), name="credit", project=sqlite_project)
    with pytest.raises(ConfigError, match="credit@1 of this project holds other data"):
        start_run(experiment="e", project=sqlite_project, dataset=theirs)
    assert list_runs(project=sqlite_project) == []


def test_get_run_accepts_a_unique_prefix_and_explains_the_rest(project: Project) -> None:
    ids = ["abcdef" + "0" * 26, "abcdef" + "1" * 26, "123456" + "f" * 26]
    with project.store.write() as session:
        for run_id in ids:
            run_queries.create_run(session, **_row(run_id))
    assert get_run(ids[2][:6], project=project).id == ids[2]
    assert get_run(ids[0][:7].upper(), project=project).id == ids[0]
    assert get_run(ids[1], project=project).id == ids[1]
    with pytest.raises(NotFound, match="'abcdef' is ambiguous: it matches abcdef0000, abcdef1111"):
        get_run("abcdef", project=project)
    with pytest.raises(NotFound, match="no run with id 'fedcba'") as unknown:
        get_run("fedcba", project=project)
    assert "forgeml runs" in str(unknown.value.fix)
    with pytest.raises(NotFound, match="too short"):
        get_run("abc", project=project)
    with pytest.raises(NotFound, match="is not a run id"):
        get_run("credit@1", project=project)
    with pytest.raises(NotFound, match="has no metric 'loss'"):
        metric_history(ids[0], "loss", project=project)


def test_list_runs_newest_first_with_filters(project: Project) -> None:
    first = start_run(experiment="a", project=project).finish()
    second = start_run(experiment="b", project=project).fail("boom")
    third = start_run(experiment="a", project=project)
    assert [r.id for r in list_runs(project=project)] == [third.id, second.id, first.id]
    assert [r.id for r in list_runs(project=project, experiment="a")] == [third.id, first.id]
    assert [r.id for r in list_runs(project=project, status="failed")] == [second.id]
    assert [r.status for r in list_runs(project=project, status="running")] == ["running"]
    assert [r.id for r in list_runs(project=project, limit=1)] == [third.id]
    assert list_runs(project=project, experiment="c") == []
    with pytest.raises(ConfigError, match="unknown run status 'done'"):
        list_runs(project=project, status="done")
    third.finish()


def test_functions_find_the_project_from_a_folder(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_run(experiment="e", project=sqlite_project.root)
    run.log_metric("m", 1.0)
    assert run.finish().status == "finished"
    monkeypatch.chdir(sqlite_project.root)
    assert get_run(run.id).metrics == {"m": 1.0}
    assert [r.id for r in list_runs()] == [run.id]
    assert metric_history(run.id, "m") == [(0, 1.0)]


def _row(run_id: str) -> dict[str, object]:
    return {
        "id": run_id,
        "experiment": "e",
        "kind": "train",
        "params": {},
        "tags": {},
        "metrics": {},
        "code_version": {},
        "packages": {},
        "host": "h",
        "created_by": "u@h",
        "started_at": utcnow(),
    }


def test_a_run_left_open_at_exit_keeps_its_points_and_is_marked_failed(
    sqlite_project: Project,
) -> None:
    script = (
        "import sys\n"
        "from forgeml.training.tracking import start_run\n"
        "run = start_run(experiment='forgotten', project=sys.argv[1])\n"
        "for step in range(3):\n"
        "    run.log_metric('loss', 1.0 / (step + 1))\n"
        "print(run.id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(sqlite_project.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info = get_run(done.stdout.strip(), project=sqlite_project)
    assert info.status == "failed" and info.error == tracking.EXIT_ERROR
    assert metric_history(info.id, "loss", project=sqlite_project) == [
        (0, 1.0),
        (1, 0.5),
        (2, 1.0 / 3),
    ]
