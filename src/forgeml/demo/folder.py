"""The demo's folder: always a fresh project, so that every run tells the same story.

A folder that already holds something is refused, unless ``force`` is given and the folder
is a demo project made by an earlier run (its ``forgeml.yaml`` names the demo project):
then it is removed and made again. Nothing else is ever deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from forgeml.config import SPEC_FILE
from forgeml.errors import ForgemlError

__all__ = ["DEMO_PROJECT", "fresh_folder"]

DEMO_PROJECT = "credit-demo"


def fresh_folder(root: Path, *, force: bool = False) -> Path:
    """Make ``root`` an empty folder for the demo, or say why it cannot be."""
    root = root.resolve()
    if root.exists() and not root.is_dir():
        raise ForgemlError(f"{root} is a file", fix="choose a folder for the demo with --dir")
    if root.is_dir() and any(root.iterdir()):
        if not force:
            raise ForgemlError(
                f"{root} is not empty: the demo starts from a fresh project so that each run "
                "tells the same story",
                fix=f"pass --force to remove the earlier demo in {root} and start afresh, "
                "or choose another --dir",
            )
        if not _is_demo(root):
            raise ForgemlError(
                f"{root} is not a demo project, so --force will not remove it",
                fix="choose an empty or new folder with --dir",
            )
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _is_demo(root: Path) -> bool:
    try:
        spec = yaml.safe_load((root / SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(spec, dict) and spec.get("project") == DEMO_PROJECT
