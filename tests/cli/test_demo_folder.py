"""The demo always starts from a fresh project, and removes nothing but an earlier demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml.demo.folder import fresh_folder
from forgeml.demo.scenario import SPEC
from forgeml.errors import ForgemlError


def test_a_new_or_empty_folder_is_used_as_it_is(tmp_path: Path) -> None:
    assert fresh_folder(tmp_path / "new") == (tmp_path / "new").resolve()
    (tmp_path / "empty").mkdir()
    assert fresh_folder(tmp_path / "empty").is_dir()


def test_an_earlier_demo_is_refused_without_force_and_replaced_with_it(tmp_path: Path) -> None:
    earlier = tmp_path / "demo"
    earlier.mkdir()
    (earlier / "forgeml.yaml").write_text(SPEC)
    (earlier / "credit-timeline.html").write_text("<html></html>")
    with pytest.raises(ForgemlError, match="not empty") as refused:
        fresh_folder(earlier)
    assert "--force" in (refused.value.fix or "")
    assert (earlier / "credit-timeline.html").exists()
    assert list(fresh_folder(earlier, force=True).iterdir()) == []


def test_force_never_removes_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "forgeml.yaml").write_text("project: churn\n")
    (work / "notes.txt").write_text("keep me")
    with pytest.raises(ForgemlError, match="not a demo project"):
        fresh_folder(work, force=True)
    assert (work / "notes.txt").read_text() == "keep me"
