"""How a cycle chooses its rows and judges its challenger, on a stream whose rule changes.

Until July the label follows ``x1``; from July it follows ``x2``. The champion learnt the
old rule from a dataset split by time (so its test metric is its decay baseline); the log
holds two months of the new one, labelled a week late. The spec's ``split.time_column``
names a column the loop's training rows do not have: its trainings split at random.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from forgeml.data.versions import dataset
from forgeml.loop.cycle import retrain
from forgeml.loop.rollouts import settle
from forgeml.loop.rows import row_keys
from forgeml.loop.triggers import check_triggers, triggers
from forgeml.monitor.run import monitor
from forgeml.project import Project
from forgeml.registry import history, model_version, versions
from loop.streams import CopyProject, build_template, serve_rows, stream

SPEC = """\
project: judging
train:
  target: y
  exclude: [at]
  candidates: [logistic]
  budget: {trials: 2}
  split: {time_column: at}
gate:
  versus_champion: {roc_auc: {min_delta: 0.0}}
monitor: {window: 30d, metric: roc_auc, min_labels: 100}
policy:
  evaluate_on: 10d
  refit: false
  data: {mode: all, min_rows: 200}
  rollout: {mode: direct}
"""
SWITCH = datetime(2025, 7, 1, tzinfo=UTC)
OLD, NEW = (1.0, 0.0), (0.0, 1.0)  # the label follows x1, then x2
# a canary decided on its own labels only: 5,000 of them, or sooner when conclusive
PATIENT_CANARY = (
    "rollout: {mode: direct}",
    "rollout: {mode: canary, predictions: 5000, skip_when_conclusive: false, "
    "skip_when_informed: false}",
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    past = stream(SWITCH - timedelta(days=180), 180, 6000, weights=OLD, seed=1)
    served = stream(SWITCH, 61, 1200, weights=NEW, seed=2)
    return build_template(
        tmp_path_factory.mktemp("judging") / "project",
        SPEC,
        "judged",
        past,
        lambda project: serve_rows(project, "judged@champion", served, prefix="a"),
    )


AFTER = datetime(2025, 9, 30, tzinfo=UTC)


def test_champion_and_challenger_are_judged_only_on_rows_neither_was_fitted_on(
    project: Project,
) -> None:
    said: list[str] = []
    cycle = retrain("judged", project=project, now=AFTER, key="k1", progress=said.append)
    # the challenger's training reports its trials as n/N while it runs
    assert any(line.startswith("cycle k1: trial 1") for line in said), said
    # The old rule fills most of the training rows: judged there, the champion would win.
    assert cycle.status == "promoted", cycle.reason
    details = cycle.details
    comparison = details["comparison"]
    assert comparison["rows"] == details["holdout_rows"] > 50
    assert comparison["challenger"]["roc_auc"] > comparison["champion"]["roc_auc"]
    holdout_start = datetime.fromisoformat(details["split_at"])
    assert holdout_start > SWITCH  # only rows served under the new rule, newest last
    assert model_version("judged@champion", project=project).version == 2


def test_all_mode_keeps_each_row_once(project: Project) -> None:
    first = retrain("judged", project=project, now=AFTER, key="k1")
    assert first.status == "promoted", first.reason
    serve_rows(project, "judged@champion", stream(AFTER, 30, 600, weights=NEW, seed=3), prefix="b")
    second = retrain("judged", project=project, now=AFTER + timedelta(days=45), key="k2")
    assert "dataset" in second.details, second.reason
    trained_on = dataset(second.details["dataset"], project=project).to_arrow()
    keys = row_keys(trained_on, ["x1", "x2", "y"])
    assert len(np.unique(keys)) == trained_on.num_rows
    champion_rows = dataset(first.details["dataset"], project=project).to_arrow().num_rows
    assert trained_on.num_rows > champion_rows  # and the new month's rows


def test_a_cycle_with_no_new_labelled_rows_says_so_and_registers_nothing(
    project: Project,
) -> None:
    early = SWITCH + timedelta(days=5)  # served, but no label has arrived yet
    cycle = retrain("judged", project=project, now=early, key="k1")
    assert cycle.status == "kept"
    assert cycle.reason.startswith("no new labelled rows to train on"), cycle.reason
    assert len(versions("judged", project=project)) == 1


def test_the_evaluation_window_is_carved_out_of_the_new_rows_not_all_of_them(
    copy_project: CopyProject,
) -> None:
    project = copy_project(("evaluate_on: 10d", "evaluate_on: 90d"))
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert "holdout_rows" in cycle.details, cycle.reason
    assert cycle.details["holdout_rows"] <= 600  # at most half of the 1200 new rows
    assert cycle.status == "promoted", cycle.reason


def test_a_quiet_stream_is_judged_on_enough_rows_for_a_verdict(
    copy_project: CopyProject,
) -> None:
    # about 20 labelled rows a day: one day is too few to judge on, min_labels (100) are not
    project = copy_project(("evaluate_on: 10d", "evaluate_on: 1d"))
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.details.get("holdout_rows") == 100, cycle.reason
    assert cycle.details["comparison"]["rows"] == 100
    assert cycle.status == "promoted", cycle.reason


def test_a_challenger_identical_to_the_champion_is_not_registered(
    copy_project: CopyProject,
) -> None:
    project = copy_project(
        (
            "data: {mode: all, min_rows: 200}",
            "data: {mode: recent_plus_reference, window: 1m, min_rows: 1, reference_rows: 100000}",
        )
    )
    # a one-minute window holds no new row: the training rows are the champion's own
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.status == "kept"
    assert "identical to the champion" in cycle.reason, cycle.reason
    assert len(versions("judged", project=project)) == 1


def test_a_loop_promotion_records_its_gate(project: Project) -> None:
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.status == "promoted", cycle.reason
    # the spec splits by a time column the loop's rows lack: the cycle's training did not
    assert model_version("judged@1", project=project).lineage["split"] == "time"
    assert model_version("judged@2", project=project).lineage["split"] == "stratified"
    event = history("judged", alias="champion", project=project)[0]
    assert event.to_version == 2
    assert event.gate is not None and event.gate["passed"] is True
    assert any("vs champion" in c["name"] for c in event.gate["checks"])


def test_decay_is_judged_against_the_metric_on_later_rows(project: Project) -> None:
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    judged = cycle.details["comparison"]["challenger"]["roc_auc"]
    tested = model_version("judged@2", project=project).metrics["test"]["roc_auc"]
    report = monitor(
        "judged",
        project=project,
        start=AFTER - timedelta(days=60),
        end=AFTER,
        window=timedelta(days=30),
        metric="roc_auc",
        alert=False,
    )
    assert report.baseline == pytest.approx(judged)
    assert report.baseline != pytest.approx(tested)


def test_the_schedule_fires_on_the_loop_clock_not_the_wall_clock(copy_project: CopyProject) -> None:
    project = copy_project(("policy:\n", "policy:\n  retrain_on: [schedule]\n  schedule: 30d\n"))
    # the champion's data ends on 30 June: by the loop's clock it is due on 30 July
    early = triggers(project, "judged", now=SWITCH + timedelta(days=20), report=None)
    due = triggers(project, "judged", now=SWITCH + timedelta(days=31), report=None)
    assert (early, due) == ([], ["schedule"])
    retrain("judged", project=project, now=AFTER, key="k1")
    assert triggers(project, "judged", now=AFTER + timedelta(days=10), report=None) == []
    later = AFTER + timedelta(days=31)
    assert triggers(project, "judged", now=later, report=None) == ["schedule"]


def _forgeml(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the ``forgeml`` command in-process: exit code, and stdout and stderr as one line."""
    from forgeml.cli import main

    code = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "300")
        patch.setattr("sys.argv", ["forgeml", *args])
        try:
            main()
        except SystemExit as done:
            code = int(done.code or 0)
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


def test_a_quiet_tick_says_why_nothing_fired(
    copy_project: CopyProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(
        ("policy:\n", "policy:\n  retrain_on: [drift, schedule]\n  schedule: 365d\n")
    )
    root = str(project.root)
    code, out = _forgeml(capsys, "-p", root, "loop", "judged", "--once", "--now", "2025-07-20")
    assert code == 0, out
    assert "last tick 2025-07-20 00:00: nothing fired" in out
    assert "no trigger fired: last labels at 2025-07-19" in out
    assert "(predictions up to 2025-07-12" in out
    assert "schedule due at 2026-06-30" in out
    code, out = _forgeml(capsys, "-p", root, "loop", "judged", "--once", "--now", "July")
    assert code != 0
    assert "--now 'July' is not an ISO timestamp" in out


def test_performance_is_judged_on_the_newest_labels_however_late_they_arrive(
    copy_project: CopyProject,
) -> None:
    project = copy_project(
        ("monitor: {window: 30d", "monitor: {window: 1d"),
        ("policy:\n", "policy:\n  retrain_on: [performance]\n"),
    )
    # the last two days hold no label (they come a week late); the month before does
    report = monitor(
        "judged",
        project=project,
        start=AFTER - timedelta(days=2),
        end=AFTER,
        window=timedelta(days=1),
        metric="roc_auc",
        alert=False,
    )
    assert triggers(project, "judged", now=AFTER, report=report) == ["performance"]
    before_any_label = SWITCH + timedelta(days=5)
    assert triggers(project, "judged", now=before_any_label, report=None) == []


def test_decay_a_kept_cycle_judged_does_not_fire_again_until_new_labels_arrive(
    copy_project: CopyProject,
) -> None:
    project = copy_project(
        ("monitor: {window: 30d", "monitor: {window: 1d"),
        ("policy:\n", "policy:\n  retrain_on: [performance]\n"),
        ("min_rows: 200", "min_rows: 100000"),  # every cycle keeps @1
    )
    assert triggers(project, "judged", now=AFTER, report=None) == ["performance"]
    assert retrain("judged", project=project, now=AFTER, key="k1").status == "kept"
    later = AFTER + timedelta(days=1)
    found = check_triggers(project, "judged", now=later, report=None)
    assert [f.fired for f in found] == [False]
    assert "0 labelled predictions of @1 since a cycle kept it at 2025-09-30" in found[0].why
    # a new week of the new rule, labelled a week later: fresh evidence of decay
    serve_rows(project, "judged@champion", stream(later, 7, 150, weights=NEW, seed=8), prefix="n")
    assert triggers(project, "judged", now=later + timedelta(days=15), report=None) == [
        "performance"
    ]


def test_a_conclusive_canary_is_decided_before_its_prediction_count(
    copy_project: CopyProject,
) -> None:
    project = copy_project(PATIENT_CANARY)
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.status == "rolling_out", cycle.reason
    assert settle(project, "judged").decided is False
    served = stream(AFTER, 20, 400, weights=NEW, seed=5)
    even, odd = pa.array(range(0, 400, 2)), pa.array(range(1, 400, 2))
    serve_rows(
        project, "judged@champion", served.take(even), prefix="c"
    )  # the same days for both arms
    serve_rows(project, "judged@2", served.take(odd), prefix="k", arm="canary")
    verdict = settle(project, "judged")
    assert verdict is not None and verdict.decided, verdict
    assert verdict.outcome == "promoted" and verdict.labels == 200
    assert model_version("judged@champion", project=project).version == 2


def test_a_challenger_better_beyond_doubt_on_the_held_out_rows_skips_the_canary(
    copy_project: CopyProject,
) -> None:
    project = copy_project(("rollout: {mode: direct}", "rollout: {mode: canary}"))
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.details["comparison"]["conclusive"] is True
    assert cycle.status == "promoted", cycle.reason
    assert "promoted without a canary" in cycle.reason
    assert model_version("judged@champion", project=project).version == 2


def test_a_challenger_that_beats_a_decayed_champion_skips_the_canary(
    copy_project: CopyProject,
) -> None:
    canary = "rollout: {mode: canary, skip_when_conclusive: false, skip_when_informed: false"
    ends = {}
    for name, trigger, rollout in [
        ("decayed", "performance", canary + "}"),
        ("drifted", "drift", canary + "}"),  # the champion may still be fine: canary
        ("asked", "performance", canary + ", skip_when_decayed: false}"),
    ]:
        project = copy_project(("rollout: {mode: direct}", rollout), name=name)
        cycle = retrain("judged", project=project, now=AFTER, trigger=trigger, key="k1")
        champion = model_version("judged@champion", project=project).version
        ends[name] = (cycle.status, champion == 1)
        if name == "decayed":
            assert "below its baseline: promoted without a canary" in cycle.reason
    # the champion is replaced (by the better of the two challengers) only when decayed
    assert ends == {
        "decayed": ("promoted", False),
        "drifted": ("rolling_out", True),
        "asked": ("rolling_out", True),
    }


def test_a_canary_that_served_for_the_evaluation_period_is_decided_on_what_it_has(
    copy_project: CopyProject,
) -> None:
    project = copy_project(PATIENT_CANARY)
    assert retrain("judged", project=project, now=AFTER, key="k1").status == "rolling_out"
    served = stream(AFTER, 6, 240, weights=NEW, seed=6)  # six days: under evaluate_on
    even, odd = pa.array(range(0, 240, 2)), pa.array(range(1, 240, 2))
    # both arms answered by the challenger: nothing conclusive between them
    serve_rows(project, "judged@2", served.take(even), prefix="c")
    serve_rows(project, "judged@2", served.take(odd), prefix="k", arm="canary")
    assert settle(project, "judged").decided is False
    later = stream(AFTER + timedelta(days=6), 6, 40, weights=NEW, seed=7)
    serve_rows(project, "judged@2", later, prefix="l", arm="canary")  # now 12 days
    verdict = settle(project, "judged")
    assert verdict is not None and verdict.decided, verdict
    assert verdict.labels == 160


def test_new_labels_fire_once_enough_rows_the_champion_has_not_seen_have_arrived(
    copy_project: CopyProject,
) -> None:
    project = copy_project(
        ("policy:\n", "policy:\n  retrain_on: [new_labels]\n  new_labels: 0.02\n")
    )
    # @1 learnt from 6,000 rows: 2% of them is 120, but judging needs 2 x min_labels = 200
    early = check_triggers(project, "judged", now=SWITCH + timedelta(days=14), report=None)
    assert [f.fired for f in early] == [False]
    assert "it needs 200" in early[0].why, early[0].why
    assert triggers(project, "judged", now=AFTER, report=None) == ["new_labels"]
    assert retrain("judged", project=project, now=AFTER, key="k1").status == "promoted"
    # the cycle trained on or judged every labelled row so far: nothing new for @2
    later = AFTER + timedelta(days=1)
    found = check_triggers(project, "judged", now=later, report=None)
    assert [f.fired for f in found] == [False]
    assert found[0].why.startswith("0 labelled rows @2 has not seen since"), found[0].why
    serve_rows(project, "judged@champion", stream(later, 7, 300, weights=NEW, seed=9), prefix="n")
    assert triggers(project, "judged", now=later + timedelta(days=15), report=None) == [
        "new_labels"
    ]


def test_the_default_policy_retrains_on_new_labels_from_everything_so_far() -> None:
    from forgeml.config import PolicySpec

    policy = PolicySpec()
    assert "new_labels" in policy.retrain_on and policy.data.mode == "all"
    assert policy.rollout.skip_when_informed is True


def test_decay_within_the_noise_of_its_labels_does_not_fire(copy_project: CopyProject) -> None:
    project = copy_project(
        ("monitor: {window: 30d", "monitor: {window: 1d, max_drop: 0.0"),
        ("policy:\n", "policy:\n  retrain_on: [performance]\n"),
    )
    # the old rule again: @1 is as good as ever, but 100 labels measure it roughly
    serve_rows(project, "judged@champion", stream(AFTER, 5, 120, weights=OLD, seed=21), prefix="o")
    found = check_triggers(project, "judged", now=AFTER + timedelta(days=13), report=None)
    assert [f.fired for f in found] == [False]
    assert re.search(r"roc_auc 0\.9\d+ on the 100 newest labelled predictions", found[0].why)
    assert "(its time-ordered test rows)" in found[0].why, found[0].why
    assert "within noise of the baseline" in found[0].why, found[0].why


def test_a_challenger_promoted_at_once_is_refitted_on_the_held_out_rows_too(
    copy_project: CopyProject,
) -> None:
    project = copy_project(("refit: false", "refit: true"))
    cycle = retrain("judged", project=project, now=AFTER, key="k1")
    assert cycle.status == "promoted", cycle.reason
    details = cycle.details
    assert (details["challenger"], details["refit"]) == (2, 3)
    assert "refitted on the" in cycle.reason and "as @3" in cycle.reason
    assert model_version("judged@champion", project=project).version == 3
    refit = model_version("judged@3", project=project)
    learnt = dataset(str(refit.signature["dataset"]), project=project).to_arrow()
    assert learnt.num_rows == details["train_rows"] + details["holdout_rows"]
    # its decay baseline is the judged challenger's metric on rows it had not seen
    report = monitor(
        "judged",
        project=project,
        start=AFTER - timedelta(days=60),
        end=AFTER,
        window=timedelta(days=30),
        metric="roc_auc",
        alert=False,
    )
    assert report.baseline == pytest.approx(details["comparison"]["challenger"]["roc_auc"])
    # it has seen every labelled row so far: the next cycle has nothing new to learn
    again = retrain("judged", project=project, now=AFTER + timedelta(days=1), key="k2")
    assert again.status == "kept" and "no new labelled rows" in again.reason, again.reason


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No gate declared; the log holds a month more of the rule the champion learnt."""
    spec = SPEC.replace("gate:\n  versus_champion: {roc_auc: {min_delta: 0.0}}\n", "")
    past = stream(SWITCH - timedelta(days=180), 180, 6000, weights=OLD, seed=1)
    served = stream(SWITCH, 30, 600, weights=OLD, seed=30)
    return build_template(
        tmp_path_factory.mktemp("steady") / "project",
        spec,
        "judged",
        past,
        lambda project: serve_rows(project, "judged@champion", served, prefix="o"),
    )


def test_noise_on_the_held_out_rows_does_not_block_a_challenger(steady: Path) -> None:
    with Project.load(steady) as project:
        cycle = retrain("judged", project=project, now=SWITCH + timedelta(days=40), key="k1")
    comparison = cycle.details["comparison"]
    ours, theirs = comparison["challenger"]["roc_auc"], comparison["champion"]["roc_auc"]
    low, high = comparison["difference"]
    assert ours < theirs and low < 0 < high  # a hair worse, well within noise
    assert cycle.status == "promoted", cycle.reason
    [check] = comparison["gate"]["checks"]
    assert check["name"] == "roc_auc vs champion" and check["passed"] is True
    assert "95% paired interval of the gain" in check["detail"]


def test_a_challenger_that_learnt_everything_the_champion_did_skips_the_canary(
    copy_project: CopyProject,
) -> None:
    canary = "rollout: {mode: canary, skip_when_conclusive: false, skip_when_decayed: false}"
    ends = {}
    for name, data in [
        ("everything", "data: {mode: all, min_rows: 200}"),
        ("window", "data: {mode: sliding_window, window: 60d, min_rows: 200}"),
    ]:
        project = copy_project(
            ("rollout: {mode: direct}", canary),
            ("data: {mode: all, min_rows: 200}", data),
            name=name,
        )
        cycle = retrain("judged", project=project, now=AFTER, key="k1")
        ends[name] = cycle.status
        if name == "everything":
            assert "learnt from every row the champion did" in cycle.reason, cycle.reason
    assert ends == {"everything": "promoted", "window": "rolling_out"}


def test_retrain_now_from_the_command_line_promotes_and_history_shows_its_gate(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(project.root)
    code, out = _forgeml(capsys, "-p", root, "retrain", "judged", "--now", "2025-09-30")
    assert code == 0, out
    assert "v2 became the champion" in out, out
    assert model_version("judged@champion", project=project).version == 2
    code, out = _forgeml(capsys, "-p", root, "history", "judged", "--alias", "champion")
    assert code == 0, out
    cells = [cell.strip() for cell in out.split("│")]
    moved = cells.index("@1 → @2")  # the loop's promotion, then actor, reason, gate
    assert cells[moved + 2].startswith("cycle manual@2025-09-30T00:00: roc_auc"), out
    assert cells[moved + 3] == "passed", out
