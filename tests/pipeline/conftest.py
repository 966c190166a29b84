"""The example pipeline project (examples/pipeline), copied to a temporary folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from forgeml.project import Project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipeline"


def copy_example(folder: Path) -> Project:
    shutil.copytree(
        EXAMPLE, folder, ignore=shutil.ignore_patterns("out", ".forgeml", "__pycache__")
    )
    return Project.init(folder)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The example project on its embedded stores (shared by a module's tests)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        project = copy_example(tmp_path_factory.mktemp("example") / "credit")
        yield project
        project.close()
