"""``skops.io``, imported without importing PyTorch on the way.

skops builds its list of trusted scikit-learn types when it is first imported, with
scikit-learn's ``all_estimators()``, which walks every scikit-learn package and imports
it. One of them, ``sklearn.externals.array_api_compat.torch``, imports PyTorch when it is
installed: about 1.5 s of CPU (several seconds of wall time on a loaded machine) that a
model of scikit-learn types never uses, paid by every ``forgeml train`` with a
scikit-learn candidate and by every server that loads such a model. :func:`skops_io`
imports skops with PyTorch hidden, unless PyTorch is imported already; the walk skips a
package that cannot be imported, and PyTorch stays importable afterwards. The list of
trusted types is the same: PyTorch defines no scikit-learn estimator.

>>> import sys
>>> skops_io().__name__
'skops.io'
>>> sys.modules.get("torch", "absent") is not None  # nothing left behind for PyTorch
True
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType

from forgeml.registry.libraries import unimportable

__all__ = ["skops_io"]

_LOCK = threading.Lock()
_HIDDEN = ("torch",)


def skops_io() -> ModuleType:
    """The ``skops.io`` module, imported on first use without importing PyTorch."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with _LOCK, unimportable(_HIDDEN):
        import skops.io as skops_io_module
    module: ModuleType = skops_io_module
    return module
