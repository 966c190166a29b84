"""The example in docs/features.md runs and prints what the page says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_the_documented_example_runs_as_shown() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "docs/features.md has no python example"
    for block in blocks:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block, str(PAGE), "exec"), {})
        # Each "# ..." comment block right after a print() call is that call's output.
        shown = re.findall(r"^print\(.*\n((?:# .*\n)+)", block, re.MULTILINE)
        expected = [" ".join(line[2:] for line in text.splitlines()) for text in shown]
        lines = printed.getvalue().splitlines()
        assert [re.sub(r"\s+", " ", line) for line in lines] == [
            re.sub(r"\s+", " ", text) for text in expected
        ]
