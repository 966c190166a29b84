"""The command line end to end: init, ingest, validate, datasets, db, demo."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_help_lists_every_command(forgeml_cli: Invoke) -> None:
    out = forgeml_cli("--help").out
    for command in ("init", "ingest", "validate", "datasets", "db", "demo", "version", "space"):
        assert f" {command} " in out


def test_init_ingest_list_show(
    forgeml_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "shop"
    assert forgeml_cli("init", str(root)).code == 0
    assert (root / "forgeml.yaml").is_file() and (root / ".forgeml" / "forgeml.db").is_file()
    monkeypatch.chdir(root)
    data = _csv(
        root / "orders.csv", ["id,amount,region", "1,9.5,north", "2,12.0,south", "3,,north"]
    )

    first = forgeml_cli("ingest", str(data))
    assert first.code == 0 and "orders@1 stored: 3 rows × 3 columns" in first.out
    again = forgeml_cli("ingest", str(data))
    assert "orders@1 already stored, unchanged" in again.out

    listing = forgeml_cli("datasets").out
    assert "orders" in listing and "@1" in listing
    shown = forgeml_cli("datasets", "show", "orders@1").out
    assert "amount" in shown and "float" in shown and "33.3%" in shown
    as_json = forgeml_cli("datasets", "show", "orders", "--json").json()
    assert isinstance(as_json, dict) and as_json["rows"] == 3
    assert "@1" in forgeml_cli("datasets", "show", "orders", "--versions").out


def test_validation_failure_prints_the_table_and_exits_non_zero(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    root = tmp_path / "p"
    forgeml_cli("init", str(root))
    (root / "forgeml.yaml").write_text(
        "datasets:\n  orders:\n    validation:\n      columns:\n        amount: {min: 10}\n"
    )
    data = _csv(root / "orders.csv", ["id,amount", "1,9.5", "2,12.0", "3,3"])
    checked = forgeml_cli("--project", str(root), "validate", str(data))
    assert checked.code == 1
    assert "breaks 1 validation rule" in checked.err and "min 10" in checked.err
    assert "9.5, 3" in checked.err
    stored = forgeml_cli("--project", str(root), "ingest", str(data))
    assert stored.code == 1 and "nothing was stored" in stored.err
    assert "no datasets yet" in forgeml_cli("--project", str(root), "datasets").out


def test_errors_are_one_clear_message_not_a_traceback(
    forgeml_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    outside = forgeml_cli("datasets")
    assert outside.code == 1 and "no forgeml.yaml" in outside.err and "forgeml init" in outside.err
    forgeml_cli("init", ".")
    (tmp_path / "forgeml.yaml").write_text("projec: x\n")
    typo = forgeml_cli("datasets")
    assert "did you mean 'project'?" in typo.err and "Traceback" not in typo.err
    (tmp_path / "forgeml.yaml").write_text("project: x\n")
    missing = forgeml_cli("ingest", "nope.csv")
    assert missing.code == 1 and "does not exist" in missing.err


def test_db_commands(forgeml_cli: Invoke, tmp_path: Path) -> None:
    forgeml_cli("init", str(tmp_path))
    from forgeml.store.migrate import HEAD_REVISION

    assert f"revision {HEAD_REVISION}" in forgeml_cli("-p", str(tmp_path), "db", "current").out
    assert "up to date" in forgeml_cli("-p", str(tmp_path), "db", "upgrade").out


def test_demo_runs_end_to_end(forgeml_cli: Invoke, tmp_path: Path) -> None:
    result = forgeml_cli("demo", "--dir", str(tmp_path / "demo"), "--rows-per-month", "500")
    assert result.code == 0, result.err
    out = " ".join(result.out.split())  # the terminal may wrap long lines
    assert "credit@1" in out and "credit@2" in out
    assert "identical content, no new version" in out
    assert "refused" in out and "atlantis" in out
    assert "default rate" in out
    assert "promoted it to champion" in out
    assert (tmp_path / "demo" / "credit-model-card.html").is_file()
    assert "it still ranks, but its probabilities are wrong" in out
    # the closed loop: a year over HTTP, drift found when the shock comes, the timeline
    assert "18,000 applications scored over HTTP in 12 months, 0 errors" in out
    assert "input drift first detected at the end of month 7" in out
    assert (tmp_path / "demo" / "credit-timeline.html").is_file()
    assert "month 12/12:" in out and "elapsed" in out
    assert "rolling_out" not in out and "no rollout left open" in out
    # the gain: the closing line repeats the figure of the year's numbers, and it is a gain
    figure = re.search(r"gain from retraining, months 9-12: log loss .*? \((\d+)% lower\)", out)
    assert figure is not None, out
    assert f"retraining paid off: log loss {figure[1]}% lower than the first champion's" in out
    # how to open the UI: the command and the address 'forgeml ui' serves by default
    assert (
        f"Browse it in a web browser: forgeml --project {tmp_path / 'demo'} ui, "
        "then open http://127.0.0.1:8080/"
    ) in out
    from forgeml.project import Project
    from forgeml.serve.rollout import active_rollout
    from forgeml.store import cycles

    with Project.load(tmp_path / "demo") as project:
        assert active_rollout(project, "credit") is None
        with project.store.read() as session:
            assert cycles.unfinished(session, "credit") == []

    # A second run on the same folder is refused rather than telling another story.
    again = forgeml_cli("demo", "--dir", str(tmp_path / "demo"), "--rows-per-month", "500")
    assert again.code == 1 and "--force" in again.err
    assert (tmp_path / "demo" / "credit-timeline.html").is_file()  # nothing was removed


def test_a_missing_option_is_a_usage_error_not_a_traceback(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    forgeml_cli("init", str(tmp_path))
    result = forgeml_cli("-p", str(tmp_path), "promote", "credit@1")
    assert result.code == 2
    assert "Missing option" in result.err and "Traceback" not in result.err


def test_project_option_is_honoured_or_refused(
    forgeml_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    forgeml_cli("init", str(here))
    monkeypatch.chdir(here)
    missing = forgeml_cli("--project", str(tmp_path / "nowhere"), "datasets")
    assert missing.code == 1 and "does not exist" in missing.err
    target = tmp_path / "target"
    assert forgeml_cli("--project", str(target), "init").code == 0
    assert (target / "forgeml.yaml").is_file()


def test_db_commands_on_an_outdated_store(forgeml_cli: Invoke, tmp_path: Path) -> None:
    from forgeml.store import MetadataStore, migrate

    forgeml_cli("init", str(tmp_path))
    with (
        MetadataStore(f"sqlite:///{tmp_path / '.forgeml' / 'forgeml.db'}") as store,
        store.engine.begin() as connection,
    ):
        migrate.downgrade(connection, "0001")
    assert "revision 0001" in forgeml_cli("-p", str(tmp_path), "db", "current").out
    upgraded = forgeml_cli("-p", str(tmp_path), "db", "upgrade").out
    from forgeml.store.migrate import HEAD_REVISION

    assert f"upgraded: 0001 → {HEAD_REVISION}" in " ".join(upgraded.split())


def test_brackets_in_messages_are_shown_not_swallowed(forgeml_cli: Invoke, tmp_path: Path) -> None:
    forgeml_cli("init", str(tmp_path))
    result = forgeml_cli("-p", str(tmp_path), "ingest", str(tmp_path / "[old]" / "x.csv"))
    assert "[old]" in result.err


def test_gate_failures_exit_non_zero_for_ci(forgeml_cli: Invoke, tmp_path: Path) -> None:
    from forgeml.data import ingest
    from forgeml.demo.credit import generate_credit
    from forgeml.project import Project

    spec = (
        "train: {target: defaulted, exclude: [customer_id, month], candidates: [logistic], "
        "budget: {trials: 1}}\ngate: {metrics: {roc_auc: {min: %s}}}\n"
    )
    (tmp_path / "forgeml.yaml").write_text(spec % "0.5")
    with Project.init(tmp_path) as project:
        ingest(
            generate_credit(rows_per_month=150, months=4, seed=2), name="credit", project=project
        )
    assert forgeml_cli("-p", str(tmp_path), "train").code == 0
    assert forgeml_cli("-p", str(tmp_path), "gate", "credit@1").code == 0
    (tmp_path / "forgeml.yaml").write_text(spec % "0.999")
    failed = forgeml_cli("-p", str(tmp_path), "gate", "credit@1")
    assert failed.code == 1 and "gate failed" in failed.out
    retrained = forgeml_cli("-p", str(tmp_path), "train", "--exclude", "region")
    assert retrained.code == 1 and "not registered" in retrained.out
