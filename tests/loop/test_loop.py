"""The retraining loop on a real project: cycles, restarts, kills, leases, canary verdicts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from forgeml.demo.credit import START, generate_credit
from forgeml.loop.cycle import retrain
from forgeml.loop.daemon import run_loop
from forgeml.loop.rollouts import rollout_progress, settle
from forgeml.monitor.alerts import list_alerts
from forgeml.project import Project
from forgeml.registry import model_version, versions
from forgeml.serve.rollout import active_rollout
from forgeml.store import cycles as rows
from loop.streams import build_template, serve_rows

SPEC = """\
project: loop-test
train:
  target: defaulted
  exclude: [customer_id, month, application_date]
  candidates: [logistic]
  budget: {trials: 2}
gate:
  versus_champion: {log_loss: {max_delta: 0.0}}
monitor: {window: 30d, metric: log_loss, max_drop: 0.05, min_labels: 100}
policy:
  evaluate_on: 10d
  data: {mode: sliding_window, window: 40d, min_rows: 300}
  rollout: {mode: canary, share: 0.5, predictions: 100, skip_when_conclusive: false}
"""
MONTH_END = (START + timedelta(days=30 * 8)).replace(tzinfo=UTC)


def _log(project: Project, rows: pa.Table, ref: str, arm: str, prefix: str = "r") -> None:
    """Serve ``rows`` with ``ref`` at their application time; labels 30 days later."""
    serve_rows(
        project,
        ref,
        rows,
        target="defaulted",
        time="application_date",
        late=timedelta(days=30),
        prefix=prefix,
        arm=arm,
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    history = generate_credit(rows_per_month=300, months=6, seed=1)
    year = generate_credit(rows_per_month=300, months=8, seed=2)
    return build_template(
        tmp_path_factory.mktemp("loop") / "project",
        SPEC,
        "credit",
        history,
        lambda project: _log(project, year, "credit@1", "champion"),
    )


def test_a_cycle_trains_judges_and_starts_a_canary(project: Project) -> None:
    cycle = retrain("credit", project=project, now=MONTH_END, trigger="drift", key="k1")
    assert cycle.status == "rolling_out", cycle.details
    details = cycle.details
    assert details["dataset"].startswith("credit-retrain@")
    comparison = details["comparison"]
    assert comparison["challenger"]["log_loss"] < comparison["champion"]["log_loss"]
    rollout = active_rollout(project, "credit")
    assert rollout is not None and rollout.version == details["challenger"] == 2
    again = retrain("credit", project=project, now=MONTH_END, trigger="drift", key="k1")
    assert again.status == "rolling_out" and len(versions("credit", project=project)) == 2


def test_a_canary_is_promoted_or_rolled_back_from_its_labels(project: Project) -> None:
    retrain("credit", project=project, now=MONTH_END, key="k1")
    month9 = generate_credit(rows_per_month=300, months=9, seed=3).slice(8 * 300)
    assert settle(project, "credit").decided is False  # no labels in the canary arm yet
    _log(project, month9.slice(0, 150), "credit@1", "champion", prefix="c")
    _log(project, month9.slice(150), "credit@2", "canary", prefix="k")
    verdict = settle(project, "credit")
    assert verdict is not None and verdict.decided and verdict.outcome == "promoted"
    assert model_version("credit@champion", project=project).version == 2
    assert active_rollout(project, "credit") is None
    with project.store.read() as session:
        assert [c.status for c in rows.latest(session, "credit")] == ["promoted"]


def test_rollout_status_shows_each_arm_so_far(project: Project) -> None:
    from typer.testing import CliRunner

    import forgeml.cli

    retrain("credit", project=project, now=MONTH_END, key="k1")
    month9 = generate_credit(rows_per_month=300, months=9, seed=3).slice(8 * 300)
    _log(project, month9.slice(0, 150), "credit@1", "champion", prefix="c")
    _log(project, month9.slice(150, 60), "credit@2", "canary", prefix="k")
    found = rollout_progress(project, "credit")
    assert found is not None
    rollout, arms = found
    assert rollout.version == 2
    champion, canary = arms
    assert (champion.arm, champion.version, canary.arm, canary.version) == (
        "champion",
        1,
        "canary",
        2,
    )
    assert (canary.predictions, canary.labelled) == (60, 60), arms
    assert 0 < champion.labelled == champion.predictions <= 150  # since the canary began
    assert canary.metric == "log_loss" and canary.value is not None
    assert canary.low is not None and canary.high is not None
    assert canary.low <= canary.value <= canary.high
    result = CliRunner().invoke(
        forgeml.cli.app,
        ["-p", str(project.root), "rollout", "status", "credit"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "so far (canary of @2" in out and "100 labelled" in out
    assert f"{canary.value:.4f}" in out and f"{canary.low:.4f} to {canary.high:.4f}" in out
    assert settle(project, "credit").decided is False  # looking does not decide


def test_a_worse_canary_is_rolled_back(project: Project) -> None:
    retrain("credit", project=project, now=MONTH_END, key="k1")
    month9 = generate_credit(rows_per_month=300, months=9, seed=3).slice(8 * 300)
    flipped = month9.set_column(
        month9.schema.get_field_index("defaulted"), "defaulted", pc.invert(month9["defaulted"])
    )
    _log(project, month9.slice(0, 150), "credit@1", "champion", prefix="c")
    _log(project, flipped.slice(150), "credit@2", "canary", prefix="k")  # its answers go wrong
    verdict = settle(project, "credit")
    assert verdict is not None and verdict.outcome == "rolled_back"
    assert model_version("credit@champion", project=project).version == 1
    assert any(a.key.startswith("rollout:") for a in list_alerts(project, "credit"))


def test_two_loops_never_both_tick(project: Project) -> None:
    ticked: list[int] = []
    barrier = threading.Barrier(2)

    def loop() -> None:
        barrier.wait()
        ticked.append(len(run_loop("credit", project=Project.load(project.root), once=True)))

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ticked) == [0, 1]


@pytest.mark.slow
def test_killing_a_cycle_and_running_it_again_duplicates_nothing(project: Project) -> None:
    code = (
        "from datetime import datetime; from forgeml.loop.cycle import retrain; "
        f"retrain('credit', project={str(project.root)!r}, "
        f"now=datetime.fromisoformat({MONTH_END.isoformat()!r}), key='killed')"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it once the cycle has started its work
        with project.store.read() as session:
            started = [c for c in rows.latest(session, "credit") if c.key == "killed"]
        if started and started[0].stage != "start":
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    cycle = retrain("credit", project=project, now=MONTH_END, key="killed")
    assert cycle.status in ("rolling_out", "kept")
    assert len(versions("credit", project=project)) <= 2  # one challenger at most
    with project.store.read() as session:
        assert [c.key for c in rows.latest(session, "credit")] == ["killed"]
    keys = [a.key for a in list_alerts(project, "credit")]
    assert len(keys) == len(set(keys))
    if cycle.status == "rolling_out":
        assert active_rollout(project, "credit") is not None


def _cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forgeml.cli", "-p", str(project.root), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_retrain_loop_and_cycles_from_the_command_line(project: Project) -> None:
    done = _cli(project, "retrain", "credit")
    assert done.returncode == 0, done.stderr
    # stdout is the outcome alone, one line a script can parse: a manual cycle at today's
    # date (the log's labels end in 2025) and what it did, in words
    [out] = done.stdout.splitlines()
    assert out.startswith("cycle manual@") and "rolling_out" not in out
    assert "is being rolled out" in out or "the champion stays" in out
    # its progress went to stderr through the shared progress lines (plain: not a terminal)
    key = re.match(r"cycle (manual@\S+): ", out)
    assert key is not None, out
    progress = done.stderr.splitlines()
    assert progress[0] == (
        f"retraining credit: cycle {key[1]}: building training rows from labelled predictions"
    )
    assert all(line.startswith(f"retraining credit: cycle {key[1]}: ") for line in progress)
    listed = _cli(project, "cycles", "credit")
    assert listed.returncode == 0 and "manual@" in listed.stdout
    ticked = _cli(project, "loop", "credit", "--once")
    assert ticked.returncode == 0, ticked.stderr
    assert "last tick" in ticked.stdout
    monitored = _cli(
        project,
        "monitor",
        "credit",
        "--from",
        "2025-07-01",
        "--to",
        "2025-08-30",
        "--window",
        "30d",
        "--no-html",
    )
    assert monitored.returncode == 0, monitored.stderr
    assert "drift" in monitored.stdout.lower()


def test_a_champion_that_served_nothing_yet_is_kept_with_the_reason(tmp_path: Path) -> None:
    root = build_template(
        tmp_path / "fresh",
        SPEC,
        "credit",
        generate_credit(rows_per_month=100, months=4, seed=4),
        lambda _project: None,  # registered, never served
    )
    with Project.load(root) as fresh:
        cycle = retrain("credit", project=fresh, now=MONTH_END)
    assert cycle.status == "kept", cycle.details
    assert "has seen every labelled prediction so far" in str(cycle.details), cycle.details


def test_a_logged_model_goes_through_a_canary_like_a_trained_one(project: Project) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import forgeml
    from forgeml.serve.rollout import start_rollout

    month9 = generate_credit(rows_per_month=300, months=9, seed=3).slice(8 * 300)
    numbers = ["age", "income", "credit_limit", "utilisation", "late_payments_12m"]
    frame = month9.select(numbers).to_pandas()
    # fitted outside forgeml, on the very rows it will be judged on: it must win its canary
    fitted = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame, month9.column("defaulted").to_numpy()
    )
    logged = forgeml.log_model(fitted, name="credit", signature_from=frame, project=project)
    assert (logged.version, logged.lineage["source"]) == (2, "log_model")
    start_rollout(
        "credit@2", mode="canary", share=0.5, reason="the risk team's model", project=project
    )
    assert active_rollout(project, "credit") is not None
    _log(project, month9.slice(0, 150), "credit@1", "champion", prefix="c")
    _log(project, month9.slice(150), "credit@2", "canary", prefix="k")
    verdict = settle(project, "credit")
    assert verdict is not None and verdict.decided and verdict.outcome == "promoted"
    assert model_version("credit@champion", project=project).version == 2
    assert active_rollout(project, "credit") is None
