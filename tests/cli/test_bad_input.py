"""Bad input on the command line: one clear error, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)


def test_a_spec_nested_thousands_of_levels_deep(forgeml_cli: Invoke, tmp_path: Path) -> None:
    root = tmp_path / "p"
    assert forgeml_cli("init", str(root)).code == 0
    (root / "forgeml.yaml").write_text("datasets: " + "[" * 5000 + "]" * 5000 + "\n")
    result = forgeml_cli("--project", str(root), "datasets")
    assert result.code == 1
    assert "more than 64 levels deep" in result.err and "Traceback" not in result.err


def _project(forgeml_cli: Invoke, tmp_path: Path) -> Path:
    root = tmp_path / "p"
    assert forgeml_cli("init", str(root)).code == 0
    return root


def test_a_semicolon_file_is_read_and_its_separator_stated(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    root = _project(forgeml_cli, tmp_path)
    data = root / "orders.csv"
    data.write_text("id;amount;region\n1;9.5;north\n2;12.0;south\n", encoding="utf-8")
    result = forgeml_cli("--project", str(root), "ingest", str(data))
    assert result.code == 0
    assert "columns separated by semicolons (detected)" in result.out
    assert "2 rows × 3 columns" in result.out


def test_a_fifo_source_is_refused_without_hanging(tmp_path: Path) -> None:
    root = tmp_path / "p"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    cli = [sys.executable, "-c", "from forgeml.cli import main; main()"]
    subprocess.run([*cli, "init", str(root)], env=env, check=True, capture_output=True)
    fifo = root / "stream.csv"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*cli, "--project", str(root), "ingest", str(fifo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "not a regular file" in done.stderr and "Traceback" not in done.stderr


def test_a_wrong_encoding_is_one_clear_error(forgeml_cli: Invoke, tmp_path: Path) -> None:
    root = _project(forgeml_cli, tmp_path)
    data = root / "orders.csv"
    data.write_text("id,city\n1,Zürich\n", encoding="utf-8")
    result = forgeml_cli("--project", str(root), "ingest", str(data), "--encoding", "utf-16")
    assert result.code == 1
    assert "does not decode as utf-16, the encoding asked for" in result.err
    assert "Traceback" not in result.err


def _rare_class(path: Path, positives: list[int]) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    frame["churned"] = 0
    frame.loc[positives, "churned"] = 1
    frame.to_csv(path, index=False)
    return path


def test_a_class_of_one_row_is_refused_naming_the_counts(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    root = _project(forgeml_cli, tmp_path)
    data = _rare_class(root / "rare.csv", [7])
    assert forgeml_cli("--project", str(root), "ingest", str(data)).code == 0
    result = forgeml_cli("--project", str(root), "train", "-d", "rare", "-t", "churned")
    assert result.code == 1
    assert "class '1': 1 of 300 rows, class '0': 299 of 300 rows" in result.err
    assert "Traceback" not in result.err and "ValueError" not in result.err


def test_a_rare_class_the_split_can_place_trains_with_a_warning(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    root = _project(forgeml_cli, tmp_path)
    # a gate any model passes: this test is about the warning, not about the model's quality
    with (root / "forgeml.yaml").open("a", encoding="utf-8") as spec:
        spec.write("\ngate:\n  min_rows: 1\n")
    data = _rare_class(root / "few.csv", [7, 50, 90, 120, 200, 260])
    assert forgeml_cli("--project", str(root), "ingest", str(data)).code == 0
    result = forgeml_cli(
        "--project",
        str(root),
        "train",
        "-d",
        "few",
        "-t",
        "churned",
        "--trials",
        "2",
        "--no-register",
    )
    assert result.code == 0, result.err
    assert "warning: few rows of a class (class '1': 6 of 300 rows" in result.out
    assert "best of" in result.out


def test_space_reports_each_part_of_the_project(forgeml_cli: Invoke, tmp_path: Path) -> None:
    root = _project(forgeml_cli, tmp_path)
    data = root / "orders.csv"
    data.write_text("id,amount\n1,9.5\n2,12.0\n", encoding="utf-8")
    assert forgeml_cli("--project", str(root), "ingest", str(data)).code == 0
    shown = forgeml_cli("--project", str(root), "space", "--json").json()
    assert shown["parts"]["datasets"]["files"] == 1 and shown["parts"]["datasets"]["bytes"] > 0
    assert shown["parts"]["models"] == {"files": 0, "bytes": 0}
    assert shown["freed"] == {"files": 0, "bytes": 0}
    assert "nothing to free" in forgeml_cli("--project", str(root), "space").out


def test_an_unknown_training_backend_is_refused_naming_the_choices(
    forgeml_cli: Invoke, tmp_path: Path
) -> None:
    root = _project(forgeml_cli, tmp_path)
    result = forgeml_cli("--project", str(root), "train", "--backend", "spark")
    assert result.code == 2
    assert "'spark' is not local or ray" in result.err and "--backend" in result.err
    assert "Traceback" not in result.err
