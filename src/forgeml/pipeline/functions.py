"""Turn a step's ``uses`` into the function to call and the version of its code.

A built-in step's code version is forgeml's; a user step's (``pkg.module:function``) is
the sha256 of its module's source, so editing the function re-runs the step.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forgeml import __version__
from forgeml.errors import ConfigError
from forgeml.pipeline.builtins import BUILTINS, Builtin
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
        return StepKind(name, target, _no_fingerprint, _code_version(target))
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
    module_name, _, attribute = target.partition(":")
    if root is not None and str(root) not in sys.path:
        sys.path.append(str(root))
    try:
        found_object: Any = importlib.import_module(module_name)
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
    return StepKind(target, found_object, _no_fingerprint, _code_version(found_object))


def _no_fingerprint(_ctx: StepContext) -> dict[str, Any]:
    return {}


def _code_version(function: Callable[..., Any]) -> str:
    """sha256 of the source of the module that defines ``function``."""
    try:
        source = inspect.getsource(inspect.getmodule(function) or function)
    except (OSError, TypeError):
        return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"
    return hashlib.sha256(source.encode()).hexdigest()
