"""Import the boosting libraries a model bundle needs, as cheaply as the process allows.

LightGBM and XGBoost import scikit-learn (and through it SciPy) when they are imported,
only for their scikit-learn-style wrappers (``LGBMClassifier``, ``XGBClassifier``): about a
second of CPU before a server can answer. A process that only scores boosters (a server
worker) never uses those wrappers, so it calls :func:`score_only` first; later imports of
either library then skip scikit-learn, unless it is already loaded (a scikit-learn model
in the same process loads it as usual).

Training processes never call :func:`score_only`: there the wrappers are needed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["import_booster_library", "score_only", "unimportable"]

_SCORE_ONLY = False
_WITHOUT = ("sklearn",)


class _Refuse:
    """A meta-path finder that makes importing the named packages fail."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if any(name == n or name.startswith(f"{n}.") for n in self.names):
            raise ImportError(f"{name} is not imported here")


@contextmanager
def unimportable(names: Sequence[str]) -> Iterator[None]:
    """While inside, importing ``names`` (not yet imported) raises ImportError.

    Nothing is left in ``sys.modules`` for them, so they import normally afterwards, and
    code that looks for them there (``"torch" in sys.modules``) sees them absent.
    """
    missing = [name for name in names if name not in sys.modules]
    if not missing:
        yield
        return
    refuse = _Refuse(missing)
    sys.meta_path.insert(0, refuse)
    try:
        yield
    finally:
        sys.meta_path.remove(refuse)


def score_only() -> None:
    """Have this process import LightGBM and XGBoost without their scikit-learn wrappers."""
    global _SCORE_ONLY
    _SCORE_ONLY = True


def import_booster_library(name: str) -> ModuleType:
    """``lightgbm`` or ``xgboost``: without scikit-learn in a scoring-only process."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if not _SCORE_ONLY:
        return importlib.import_module(name)
    with unimportable(_WITHOUT):
        return importlib.import_module(name)
