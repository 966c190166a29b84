"""Start-up stays cheap: ``forgeml --help``, ``--version`` and ``import forgeml`` load no
heavy library, and the command list shown without loading the commands is their real help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import forgeml
from forgeml.cli.commands import COMMANDS

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)

HEAVY = ["sqlalchemy", "pyarrow", "pandas", "sklearn", "lightgbm", "xgboost", "optuna", "uvicorn"]
SRC = str(Path(forgeml.__file__).resolve().parents[1])

# Runs the real entry point with the given arguments, then reports which heavy libraries
# had been imported, as JSON on the last line of stderr.
CLI = """
import sys
from forgeml.cli import main
sys.argv = ["forgeml", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
"""
IMPORT = "import forgeml\n"
REPORT = """
import json, sys
heavy = {heavy}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))), file=sys.stderr)
"""


def _run(code: str, *args: str) -> tuple[str, list[str]]:
    """What ``code`` printed, and the heavy libraries loaded once it had run."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def test_help_loads_no_heavy_library() -> None:
    out, loaded = _run(CLI, "--help")
    assert loaded == []
    assert "Commands" in out and "  train " in out


def test_version_loads_no_heavy_library() -> None:
    out, loaded = _run(CLI, "--version")
    assert loaded == []
    assert out.strip() == forgeml.__version__


def test_import_forgeml_loads_no_heavy_library_yet_every_public_name_resolves() -> None:
    _, loaded = _run(IMPORT)
    assert loaded == []
    for name in forgeml.__all__:
        assert getattr(forgeml, name) is not None, name
    assert set(forgeml.__all__) <= set(dir(forgeml))
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = forgeml.no_such_thing  # type: ignore[attr-defined]


def test_version_flag_and_command_print_the_version(forgeml_cli: Invoke) -> None:
    assert forgeml_cli("--version").out.strip() == forgeml.__version__
    assert forgeml_cli("-V").out.strip() == forgeml.__version__
    assert forgeml_cli("version").out.strip() == forgeml.__version__


def test_command_list_shows_each_commands_own_summary(forgeml_cli: Invoke) -> None:
    listed = forgeml_cli("--help").out
    for name, lazy in COMMANDS.items():
        command = lazy.load(name)
        assert command.get_short_help_str(limit=1000) == lazy.summary, name
        assert f"  {name} " in listed


def test_a_command_and_a_group_load_when_they_run(forgeml_cli: Invoke) -> None:
    group = forgeml_cli("db", "--help")
    assert group.code == 0 and "upgrade" in group.out
    command = forgeml_cli("train", "--help")
    assert command.code == 0 and "--target" in command.out
    unknown = forgeml_cli("trian")
    assert unknown.code == 2 and "No such command 'trian'" in unknown.err


def test_every_public_name_has_a_home_and_no_home_is_unlisted() -> None:
    homes = forgeml._HOMES  # type: ignore[attr-defined]
    assert set(forgeml.__all__) == {"__version__", *homes}


def test_the_server_imports_no_training_library_before_it_loads_a_model() -> None:
    _, loaded = _run("import forgeml.cli.serve, forgeml.serve.server\n")
    assert [name for name in loaded if name in ("sklearn", "pandas", "optuna", "xgboost")] == []
