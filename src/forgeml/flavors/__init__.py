"""Model flavors that users bring: PyTorch, Keras 3 and ONNX, each saved without pickle.

One small module per flavor, each with the same four functions:

* ``dump(model, **options) -> dict[part, (format, bytes)]``: the parts to store, each in a
  format that loads without running code (safetensors + JSON, ``.keras`` in safe mode,
  ONNX protobuf);
* ``load(parts: dict[part, bytes], options, *, trust_code=False) -> model``: the model back
  from verified bytes; ``trust_code`` (granted only through the audited trust flag, never
  read from stored data) admits what a format can hold that runs code (Keras' Lambda
  layers and legacy ``.h5`` files);
* ``predict(model, x: np.ndarray) -> np.ndarray``: the raw outputs for a batch;
* ``owns(model) -> bool``: whether an object is a model of this flavor.

scikit-learn (skops), LightGBM (text) and XGBoost (JSON) stay in
:mod:`forgeml.registry.bundle`, which dispatches to these modules for the others.

>>> sorted(NEURAL)
['keras', 'onnx', 'torch']
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from forgeml.errors import MissingDependency

__all__ = ["NEURAL", "flavor_module", "packages", "require"]

NEURAL: dict[str, str] = {"torch": "torch", "keras": "keras", "onnx": "onnx"}
"""Flavor -> the optional extra (``pip install 'forgeml[EXTRA]'``) that it needs."""

_PACKAGES = {
    "torch": ("torch", "safetensors"),
    "keras": ("keras",),
    "onnx": ("onnx", "onnxruntime"),
}


_KERAS_BACKENDS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
"""Keras' backend (``KERAS_BACKEND``) -> the distribution that runs it."""


def require(flavor: str, purpose: str) -> None:
    """Raise MissingDependency naming the extra when a package ``flavor`` needs is absent."""
    if flavor == "keras":
        from forgeml.flavors.keras_flavor import use_backend

        use_backend()  # Keras reads KERAS_BACKEND once, when it is first imported
    for package in _PACKAGES[flavor]:
        try:
            importlib.import_module(package)
        except ImportError:
            raise MissingDependency(package, NEURAL[flavor], purpose) from None


def flavor_module(flavor: str) -> ModuleType:
    """The module that saves, loads and scores ``flavor`` (its packages checked first)."""
    require(flavor, f"A {flavor} model")
    return importlib.import_module(f"forgeml.flavors.{flavor}_flavor")


def packages(flavor: str) -> tuple[str, ...]:
    """The distributions that load and score a model of ``flavor`` here (Keras' backend too).

    >>> packages("onnx")
    ('onnx', 'onnxruntime')
    """
    found = _PACKAGES[flavor]
    if flavor == "keras":
        from forgeml.flavors.keras_flavor import use_backend

        use_backend()
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")  # Keras' own default
        found += (_KERAS_BACKENDS.get(backend, backend),)
    return found
