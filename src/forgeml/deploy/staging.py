"""Output folders that appear complete or not at all.

Every export and build context is written into a hidden staging folder beside its
destination and renamed into place at the end; an error (or Ctrl-C) removes the staging
folder and leaves the destination as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forgeml.errors import ConfigError

__all__ = ["empty_target", "staged"]


def empty_target(out: str | os.PathLike[str], *, what: str = "export") -> Path:
    """``out`` as a path, checked to be new or an empty folder (``what`` names the old one)."""
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(
            f"{target} already exists and is not an empty folder",
            fix=f"pass a new folder, or remove the old {what} first",
        )
    return target


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A staging folder beside ``target`` (new or empty) that becomes ``target`` when the
    block ends without an error, and is removed when it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.exists():
            target.rmdir()  # empty, checked by empty_target
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
