"""Run the real ``forgeml`` entry point in-process and capture what it prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from forgeml.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


Invoke = Callable[..., Result]


@pytest.fixture
def forgeml_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    monkeypatch.delenv("FORGEML_PROJECT", raising=False)

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["forgeml", *args])
        code = 0
        try:
            main()
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
