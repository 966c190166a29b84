"""Run the real ``forgeml`` entry point in-process and capture what it prints."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support import CliResult, run_cli

Invoke = Callable[..., CliResult]


@pytest.fixture
def forgeml_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    monkeypatch.delenv("FORGEML_PROJECT", raising=False)

    def run(*args: str) -> CliResult:
        return run_cli(monkeypatch, capsys, *args)

    return run
