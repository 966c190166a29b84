"""Keras 3 models: the ``.keras`` archive, read only with ``safe_mode=True``.

Before Keras sees an archive forgeml reads its ``config.json`` itself and refuses one
that names code: a ``Lambda`` layer (a Python function as bytecode), a ``module`` outside
Keras (``os``, ``builtins``, ``subprocess`` ...) or a registered custom object. Legacy
``.h5`` files are refused too. TensorFlow is supported through the same ``.keras`` path;
without it Keras runs on the PyTorch backend.

>>> try:
...     check_config({"module": "os", "class_name": "system", "config": {}})
... except UntrustedModel as e:
...     print(e.message)
the Keras model's config.json names code forgeml does not load: os.system
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from forgeml.errors import ConfigError, UntrustedModel

__all__ = ["check_archive", "check_config", "dump", "load", "owns", "predict"]

_REFUSED_CLASSES = {"Lambda", "TFOpLambda", "function", "Function"}


def use_backend() -> None:
    """Keras on TensorFlow where it is installed, else on PyTorch (set before import)."""
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
        os.environ["KERAS_BACKEND"] = "torch"


def owns(model: Any) -> bool:
    use_backend()
    import keras

    return isinstance(model, keras.Model)


def dump(model: Any) -> dict[str, tuple[str, bytes]]:
    """The ``.keras`` archive of a model (or of a ``.keras`` file's path), checked."""
    use_backend()
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.suffix != ".keras":
            raise UntrustedModel(
                f"{path} is not a .keras archive: legacy .h5 and SavedModel files may "
                "hold Python code and are not loaded",
                fix="load it in Keras 3 and save it again with model.save('model.keras')",
            )
        data = path.read_bytes()
    else:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            try:
                with _quiet():
                    model.save(path)
            except Exception as e:  # Keras' own serialisation errors
                raise ConfigError(
                    f"Keras cannot save the model ({type(e).__name__}: {e})",
                    fix="build it from Keras layers and call it once before logging",
                ) from None
            data = path.read_bytes()
    load({"model": data})
    return {"model": ("keras", data)}


def check_archive(data: bytes) -> None:
    """Refuse an archive whose ``config.json`` names anything but Keras' own objects."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError) as e:
        raise UntrustedModel(
            f"the stored Keras model is not a .keras archive ({type(e).__name__}: {e})",
            fix="save the model with model.save('model.keras')",
        ) from None
    check_config(config)


def check_config(config: Any) -> None:
    """Walk a Keras config; raise UntrustedModel naming every object that is not Keras'."""
    refused: set[str] = set()
    stack = [config]
    while stack:  # no recursion: a hostile config may nest deeper than Python's stack
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            module, name = value.get("module"), value.get("class_name")
            if isinstance(module, str) and not (module == "keras" or module.startswith("keras.")):
                refused.add(f"{module}.{name}")
            if name in _REFUSED_CLASSES:
                refused.add(f"{module}.{name} (a layer that runs Python code)")
            if value.get("registered_name") not in (None, name) and "module" in value:
                refused.add(f"custom object {value['registered_name']}")
            stack.extend(value.values())
    if refused:
        raise UntrustedModel(
            "the Keras model's config.json names code forgeml does not load: "
            + ", ".join(sorted(refused)),
            fix="build the model from Keras layers only (no Lambda layers or custom "
            "objects), or export it to ONNX and log that",
        )


def load(parts: dict[str, bytes], options: dict[str, Any] | None = None) -> Any:
    """The model from a checked archive, loaded by Keras with ``safe_mode=True``."""
    use_backend()
    import keras

    data = parts["model"]
    check_archive(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        try:
            with _quiet():
                return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # Keras refuses or cannot rebuild a layer
            raise UntrustedModel(
                f"Keras refused the stored model in safe mode ({type(e).__name__}: {e})",
                fix="build the model from Keras layers only and save it as .keras",
            ) from None


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    with _quiet():
        out = model.predict_on_batch(np.ascontiguousarray(x, dtype=np.float32))
    return np.asarray(_numpy(out), dtype=np.float64)


@contextmanager
def _quiet() -> Iterator[None]:
    """Keras' own deprecation notices (NumPy 2's copy keyword) are not the user's to fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _numpy(out: Any) -> Any:
    detach = getattr(out, "detach", None)  # a torch tensor on the torch backend
    return detach().cpu().numpy() if detach is not None else out
