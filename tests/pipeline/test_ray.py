"""Pipelines with ``executor: ray``: steps run as Ray tasks, results equal the local ones."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forgeml.errors import DataError
from forgeml.pipeline import Pipeline, Step, run_pipeline
from forgeml.project import Project

ray = pytest.importorskip(
    "ray", reason="the ray extra is not installed: pip install 'forgeml[ray]'"
)

STEPS = textwrap.dedent(
    """
    import os

    def load(ctx):
        return {"numbers": [int(x) for x in (ctx.project.root / "in.txt").read_text().split()]}

    def total(ctx):
        return {"total": sum(ctx.find("numbers")), "pid": os.getpid()}
    """
)


def _pipeline(executor: str) -> Pipeline:
    return Pipeline(
        "sums",
        [
            Step("load", uses="raysteps:load", params={"inputs": ["in.txt"]}),
            Step("total", uses="raysteps:total", after=["load"]),
        ],
        executor=executor,
    )


def _project(folder: Path) -> Project:
    project = Project.init(folder)
    (folder / "raysteps.py").write_text(STEPS)
    (folder / "in.txt").write_text("1 2 3 4")
    return project


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # address="local": a Ray of this process's own, whatever cluster this machine runs
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.usefixtures("local_ray")
def test_steps_run_as_ray_tasks_with_the_local_results(tmp_path: Path) -> None:
    with _project(tmp_path / "a") as project:
        on_ray = run_pipeline(_pipeline("ray"), project=project)
        assert on_ray.status == "succeeded", [s.error for s in on_ray.steps]
        outputs = on_ray.step("total").outputs or {}
        assert outputs["total"] == 10 and outputs["pid"] != os.getpid()  # another process
        again = run_pipeline(_pipeline("ray"), project=project)
        assert again.executed == [] and again.cached == ["load", "total"]
    with _project(tmp_path / "b") as project:
        local = run_pipeline(_pipeline("local"), project=project)
        assert (local.step("total").outputs or {})["total"] == 10
        assert (local.step("total").outputs or {})["pid"] == os.getpid()


@pytest.mark.usefixtures("local_ray")
@pytest.mark.timeout(900)
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray Data's own
# 120 rows make one Ray Data block, which one of the two scoring actors gets
@pytest.mark.filterwarnings("ignore:The minimum number of concurrent actors:UserWarning")
def test_batch_scoring_on_ray_data_equals_local_scoring(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from forgeml.serve.batch import predict_file
    from forgeml.serve.batch_ray import predict_file_ray
    from pipeline_example import copy_example

    with copy_example(tmp_path / "credit") as project:
        from forgeml.data.ingest import ingest

        ingest(project.root / "data" / "credit.csv", name="credit", project=project)
        assert run_pipeline("retrain", project=project).status == "succeeded"
        source = project.root / "data" / "new.csv"
        local = predict_file(
            "credit", source, tmp_path / "local.parquet", project=project, chunk_rows=50
        )
        on_ray = predict_file_ray(
            "credit", source, tmp_path / "ray.parquet", project=project, chunk_rows=50
        )
        lines = source.read_text().splitlines()
        broken = tmp_path / "broken.csv"  # line 6 (row 4) has a field too many
        broken.write_text("\n".join([*lines[:5], lines[5] + ",extra", *lines[6:]]) + "\n")
        with pytest.raises(DataError, match=r"row 4 of .*broken.csv cannot be read"):
            predict_file_ray(
                "credit", broken, tmp_path / "none.parquet", project=project, chunk_rows=50
            )
        assert not (tmp_path / "none.parquet").exists()
    assert on_ray["rows"] == local.rows == 120
    assert pq.read_table(tmp_path / "ray.parquet").equals(pq.read_table(tmp_path / "local.parquet"))


@pytest.mark.usefixtures("local_ray")
@pytest.mark.timeout(900)
def test_monitoring_with_profiles_merged_from_ray_partitions_equals_local(
    sqlite_project: Project,
) -> None:
    from datetime import UTC, datetime, timedelta

    from forgeml.monitor.ray_profiles import ray_profiler
    from forgeml.monitor.references import store_reference
    from forgeml.monitor.run import monitor
    from forgeml.registry import load_model, model_version
    from forgeml.serve.predlog import PredictionLog
    from forgeml.training.predict import Predictor
    from serve.serving import credit_table, register

    start = datetime(2025, 3, 1, tzinfo=UTC)
    register(sqlite_project, metrics={"test": {"roc_auc": 0.8, "threshold": 0.5}})
    version = model_version("credit@1", project=sqlite_project)
    store_reference(version, project=sqlite_project, table=credit_table(rows=1000, seed=0))
    table = credit_table(rows=600, seed=1)
    _, bundle = load_model("credit@1", project=sqlite_project)
    scores = Predictor(bundle).scores(table)
    names = [c["name"] for c in version.signature["inputs"]]
    with PredictionLog(sqlite_project, "credit", version.signature["inputs"]) as log:
        for day in range(3):
            part = slice(day * 200, (day + 1) * 200)
            log.log_predictions(
                ids=[f"d{day}-{i}" for i in range(200)],
                version=1,
                arm="champion",
                inputs={n: table.column(n).to_pylist()[part] for n in names},
                scores=scores[part],
                labels=list(scores[part] >= 0.5),
                latency_ms=1.0,
                time=(start + timedelta(days=day, hours=12)).timestamp(),
            )
    span = {"start": start, "end": start + timedelta(days=3), "window": timedelta(days=1)}
    local = monitor("credit", project=sqlite_project, alert=False, **span)
    on_ray = monitor(
        "credit", project=sqlite_project, alert=False, profile=ray_profiler(partitions=3), **span
    )
    assert [w.rows for w in on_ray.windows] == [200, 200, 200]
    # sums of floats added partition by partition differ in their last bits, no more
    assert _differences(on_ray.to_dict(), local.to_dict()) == []


def _differences(a: object, b: object, path: str = "") -> list[str]:
    import math

    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


TRAIN_SPEC = """\
train:
  target: defaulted
  exclude: [customer_id, month]
  candidates: [logistic, extra_trees, hist_gradient_boosting, lightgbm]
  budget: {trials: 4}
gate:
  metrics: {roc_auc: {min: 0.55}}
"""


def _credit_project(root: Path) -> Project:
    from forgeml.config import SPEC_FILE
    from forgeml.data import ingest
    from forgeml.demo.credit import generate_credit

    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(TRAIN_SPEC)
    project = Project.init(root)
    ingest(generate_credit(rows_per_month=60, months=5, seed=3), name="credit", project=project)
    return project


@pytest.mark.usefixtures("local_ray")
@pytest.mark.timeout(900)
def test_training_trials_on_ray_tasks_pick_the_local_winner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forgeml.registry import model_version
    from forgeml.training import fitting, ray_search
    from forgeml.training.run_records import get_run, metric_history
    from forgeml.training.trainer import train

    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    with _credit_project(tmp_path / "local") as project:
        local = train(project=project)
    said: list[str] = []

    def not_here(*args: object, **kw: object) -> None:
        raise AssertionError("a trial ran in the driver")

    # trials on Ray run in the workers, which never see this process's patches
    monkeypatch.setattr(fitting, "evaluate_trial", not_here)
    monkeypatch.setattr(ray_search, "evaluate_trial", not_here)
    with _credit_project(tmp_path / "ray") as project:
        on_ray = train(project=project, backend="ray", progress=said.append)
        assert any("Ray tasks" in line for line in said)
        run = get_run(on_ray.run_id, project=project)
        assert run.status == "finished"
        history = metric_history(on_ray.run_id, "search/score", project=project)
        assert [step for step, _ in history] == [0, 1, 2, 3]  # one per trial, as locally
        assert on_ray.model is not None and on_ray.promoted
        assert model_version("credit@champion", project=project).version == 1
    assert [(t.number, t.candidate, t.params, t.state) for t in on_ray.trials] == [
        (t.number, t.candidate, t.params, t.state) for t in local.trials
    ]
    assert [t.score for t in on_ray.trials] == pytest.approx([t.score for t in local.trials])
    assert (on_ray.candidate, on_ray.params) == (local.candidate, local.params)
    assert on_ray.test["roc_auc"] == pytest.approx(local.test["roc_auc"])
    assert on_ray.gate.passed == local.gate.passed


# Last in the module: it shuts down the Ray the other tests share.
@pytest.mark.timeout(900)
def test_a_real_local_cluster_is_reached_with_address_auto(tmp_path: Path) -> None:
    if ray.is_initialized():
        ray.shutdown()
    # a loaded machine starts a raylet slowly: give it minutes, not Ray's default seconds
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "RAY_raylet_start_wait_time_s": "300",
    }
    log = tmp_path / "head.log"
    ray_cli = Path(sys.executable).parent / "ray"
    with log.open("w") as out:
        head = subprocess.Popen(
            [
                str(ray_cli),
                "start",
                "--head",
                "--port",
                "6390",
                "--num-cpus",
                "2",
                "--include-dashboard=false",
                "--disable-usage-stats",
                "--block",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 400
        while "will now block" not in log.read_text():
            assert head.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "ray start --head did not come up"
            time.sleep(1)
        ray.init(address="auto", log_to_driver=False)
        assert ray.cluster_resources().get("CPU") == 2
        with _project(tmp_path / "c") as project:
            run = run_pipeline(_pipeline("ray"), project=project)
        assert run.status == "succeeded", [s.error for s in run.steps]
        assert (run.step("total").outputs or {})["total"] == 10
    finally:
        ray.shutdown()
        _signal_group(head.pid, signal.SIGTERM)  # --block: stopping it stops its cluster
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _signal_group(head.pid, signal.SIGKILL)
            head.wait()
        # the head leaves its address for address="auto"; a later ray.init would follow it
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if current.is_file() and current.read_text().strip().endswith(":6390"):
            current.unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    """Signal the head's process group; a group whose processes all ended needs nothing."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
