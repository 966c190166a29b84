"""Version numbers too large for the store are refused with a clear error, not a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from forgeml.data.versions import MAX_VERSION, parse_ref
from forgeml.errors import ConfigError
from forgeml.registry.refs import parse_model_ref

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)
HUGE = "99999999999999999999999"


@pytest.mark.parametrize("parse", [parse_ref, parse_model_ref])
def test_both_references_share_the_store_range(parse: Callable[[str], Any]) -> None:
    assert parse(f"credit@{MAX_VERSION}") == ("credit", MAX_VERSION)
    assert parse("credit@007") == ("credit", 7)
    for text in (HUGE, str(MAX_VERSION + 1)):
        with pytest.raises(ConfigError, match="larger than any stored version"):
            parse(f"credit@{text}")
    with pytest.raises(ConfigError, match="invalid version"):
        parse("credit@0")


@pytest.mark.parametrize(
    "args",
    [
        ("datasets", "show", f"orders@{HUGE}"),
        ("report", f"orders-model@{HUGE}"),
        ("predict", f"orders-model@{HUGE}", "-i", "orders.csv", "-o", "scored.csv"),
        ("gate", f"orders-model@{HUGE}"),
        ("promote", f"orders-model@{HUGE}", "-a", "champion", "-r", "test"),
    ],
)
def test_commands_refuse_a_huge_version_clearly(
    forgeml_cli: Invoke, tmp_path: Path, args: tuple[str, ...]
) -> None:
    root = tmp_path / "p"
    assert forgeml_cli("init", str(root)).code == 0
    (root / "orders.csv").write_text("id,amount\n1,2.5\n", encoding="utf-8")
    result = forgeml_cli("--project", str(root), *args)
    assert result.code == 1
    assert "larger than any stored version" in result.err
    assert "Traceback" not in result.err and "OverflowError" not in result.err
