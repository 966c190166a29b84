"""The example pipeline project (examples/pipeline), copied for a test."""

from __future__ import annotations

import shutil
from pathlib import Path

from forgeml.project import Project

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pipeline"


def copy_example(folder: Path) -> Project:
    """A fresh copy of the example in ``folder``, initialised (nothing ingested yet)."""
    shutil.copytree(
        EXAMPLE, folder, ignore=shutil.ignore_patterns("out", ".forgeml", "__pycache__")
    )
    return Project.init(folder)
