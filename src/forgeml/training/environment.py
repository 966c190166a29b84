"""Where a run ran: the code version (git) and the versions of the packages that matter.

>>> {"python", "platform", "forgeml", "numpy"} <= package_versions().keys()
True
>>> import tempfile
>>> code_version(tempfile.mkdtemp())  # not inside a git repository
{}
"""

from __future__ import annotations

import os
import platform
import subprocess
from functools import cache
from importlib import metadata
from typing import Any

__all__ = ["GIT_TIMEOUT_S", "PACKAGES", "code_version", "package_versions"]

GIT_TIMEOUT_S = 3.0
# key -> distributions that provide it (xgboost ships on Linux x86_64 as 'xgboost-cpu')
PACKAGES: dict[str, tuple[str, ...]] = {
    "forgeml": ("forgeml",),
    "numpy": ("numpy",),
    "pandas": ("pandas",),
    "pyarrow": ("pyarrow",),
    "scikit-learn": ("scikit-learn",),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "optuna": ("optuna",),
}
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")


def code_version(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"commit", "dirty", "branch"}`` of the git checkout holding ``folder``, else ``{}``.

    ``dirty`` is True when tracked files differ from the commit (untracked files do not
    count, as with ``git describe --dirty``). ``commit`` is None before the first commit and
    ``branch`` is None on a detached HEAD. Without git, outside a repository, or when git
    does not answer within :data:`GIT_TIMEOUT_S`, the result is ``{}``.
    """
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            env=_git_env(),
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in done.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ").strip()
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ").strip()
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    return {"commit": commit, "dirty": dirty, "branch": branch}


def _git_env() -> dict[str, str]:
    # Look at ``folder`` itself, whatever repository the caller's environment points at;
    # a read-only look never takes the index lock another git command may need.
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    env.update(GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform, forgeml and the ML packages that are installed."""
    return dict(_package_versions())


@cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    found = [("python", platform.python_version()), ("platform", platform.platform())]
    for key, distributions in PACKAGES.items():
        for distribution in distributions:
            try:
                found.append((key, metadata.version(distribution)))
                break
            except metadata.PackageNotFoundError:
                continue
    return tuple(found)
