"""Each test gets a copy of its module's ``template`` project (a module-scoped fixture)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from forgeml.project import Project
from loop.streams import CopyProject


@pytest.fixture
def copy_project(template: Path, tmp_path: Path) -> Iterator[CopyProject]:
    """Make a copy of the template, its spec changed by ``(old, new)`` pairs; closed after."""
    opened: list[Project] = []

    def make(*changes: tuple[str, str], name: str = "project") -> Project:
        root = tmp_path / name
        shutil.copytree(template, root)
        path = root / "forgeml.yaml"
        text = path.read_text()
        for old, new in changes:
            assert old in text, f"{old!r} is not in the spec"
            text = text.replace(old, new)
        path.write_text(text)
        opened.append(Project.load(root))
        return opened[-1]

    yield make
    for project in opened:
        project.close()


@pytest.fixture
def project(copy_project: CopyProject) -> Project:
    """An unchanged copy of the template."""
    return copy_project()
