"""Turn a step's ``uses`` into the function to call and the version of its code.

A built-in step's code version is forgeml's; a user step's (``pkg.module:function``) is
the sha256 of its module's source, so editing the function re-runs the step. A module in
the project folder is also versioned by the project modules it imports, and is only
imported when its step runs (see :mod:`forgeml.pipeline.code_version`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from forgeml import __version__
from forgeml.errors import ConfigError
from forgeml.pipeline.builtins import BUILTINS, Builtin
from forgeml.pipeline.code_version import (
    project_code_version,
    project_module_file,
    project_sources,
)
from forgeml.pipeline.context import StepContext

__all__ = ["StepKind", "resolve"]

_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class StepKind:
    """What a step runs: its function, its fingerprint, and the version of its code."""

    target: str
    run: Callable[[StepContext], Any]
    fingerprint: Callable[[StepContext], dict[str, Any]]
    code: str
    volatile: bool = False


def resolve(target: str | Callable[..., Any], root: Path | None = None) -> StepKind:
    """The step that ``target`` names: a built-in, ``pkg.module:function`` or a function.

    Modules in the project folder ``root`` can be imported, as Airflow imports the DAG folder.
    """
    if callable(target):
        name = f"{target.__module__}:{target.__qualname__}"
        return StepKind(name, target, _user_fingerprint, _code_version(target))
    if target in BUILTINS:
        found: Builtin = BUILTINS[target]
        return StepKind(
            target, found.run, found.fingerprint, f"forgeml {__version__}", found.volatile
        )
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ConfigError(
            f"{target!r} is neither a built-in step nor a function",
            fix="use one of " + ", ".join(BUILTINS) + ", or 'pkg.module:function'",
        )
    module_name = target.partition(":")[0]
    source = project_module_file(module_name, root)
    if source is not None and root is not None:  # imported only when the step runs
        code = project_code_version(source, root)
        return StepKind(target, _Deferred(target, root), _user_fingerprint, code)
    function = _load(target, root)
    return StepKind(target, function, _user_fingerprint, _code_version(function))


@dataclass(frozen=True)
class _Deferred:
    """A project step function, loaded from its file when the step runs (not on a cache hit)."""

    target: str
    root: Path

    def __call__(self, ctx: StepContext) -> Any:
        return _load(self.target, self.root)(ctx)


def _load(target: str, root: Path | None) -> Callable[[StepContext], Any]:
    module_name, _, attribute = target.partition(":")
    if root is not None and str(root) not in sys.path:
        sys.path.append(str(root))
    try:
        found_object: Any = _project_module(module_name, root) or importlib.import_module(
            module_name
        )
        for part in attribute.split("."):
            found_object = getattr(found_object, part)
    except ImportError as error:
        raise ConfigError(
            f"step function {target!r} cannot be imported: {error}",
            fix="check the module name, and that its package is installed or on PYTHONPATH",
        ) from None
    except AttributeError:
        raise ConfigError(
            f"module {module_name!r} has no {attribute!r}",
            fix=f"define {attribute} in {module_name}, or correct the step's 'uses'",
        ) from None
    if not callable(found_object):
        raise ConfigError(f"{target!r} is not a function", fix="point 'uses' at a function")
    function: Callable[[StepContext], Any] = found_object
    return function


def _project_module(name: str, root: Path | None) -> ModuleType | None:
    """A module in the project folder, loaded from its file each time: the code that runs
    is the code on disk (the one its cache key hashes), whichever project ran before."""
    path = project_module_file(name, root)
    if path is None:
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    folder = (root or path.parent).resolve()
    for imported in project_sources(path, root or path.parent):  # re-read from disk too
        loaded = getattr(sys.modules.get(imported), "__file__", None)
        if loaded and Path(loaded).resolve().is_relative_to(folder):  # never a library's
            del sys.modules[imported]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _user_fingerprint(ctx: StepContext) -> dict[str, Any]:
    """A user step reads the files it lists in ``params.inputs``: their bytes are its inputs."""
    listed = ctx.params.get("inputs") or []
    if isinstance(listed, str):
        listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
        raise ConfigError(
            f"params.inputs of step {ctx.step!r} must be a list of file paths",
            fix="write inputs: [data/file.csv, ...] (relative to the project folder)",
        )
    files = {}
    for name in listed:
        path = Path(name).expanduser()
        files[name] = ctx.file_sha256(path if path.is_absolute() else ctx.project.root / path)
    return {"files": files} if files else {}


def _code_version(function: Callable[..., Any]) -> str:
    """sha256 of the source file of the module that defines ``function``."""
    try:
        source = inspect.getsourcefile(inspect.getmodule(function) or function)
        return hashlib.sha256(Path(source or "").read_bytes()).hexdigest()
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"
