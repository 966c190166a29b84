"""Keras 3 models: the ``.keras`` archive, read only with ``safe_mode=True``.

Before Keras sees an archive forgeml reads its ``config.json`` itself and refuses one
that names code: a ``Lambda`` layer (a Python function as bytecode), a ``module`` outside
Keras (``os``, ``builtins``, ``subprocess`` ...) or a registered custom object. Legacy
``.h5`` files are refused too. TensorFlow is supported through the same ``.keras`` path;
without it Keras runs on the PyTorch backend.

Lambda layers and legacy ``.h5`` files are admitted only with an explicit trust flag
(``trust_code=True``), which the registry records in its audit trail: they then load with
``safe_mode=False``, so their Python code runs. The flag admits nothing else: a config
naming a module outside Keras, or a custom object, is refused even then.

>>> try:
...     check_config({"module": "os", "class_name": "system", "config": {}})
... except UntrustedModel as e:
...     print(e.message)
the Keras model's config.json names code forgeml does not load: os.system
>>> check_config({"module": "keras.layers", "class_name": "Lambda"}, trust_code=True)
['Lambda layer (Python code)']
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

__all__ = [
    "H5_FORMAT",
    "check_archive",
    "check_config",
    "code_in",
    "dump",
    "load",
    "owns",
    "predict",
]

_CODE_LAYERS = {"Lambda", "TFOpLambda"}  # hold Python bytecode: admitted only when trusted
_REFUSED_CLASSES = {"function", "Function"}
_H5_MAGIC = b"\x89HDF\r\n\x1a\n"
H5_FORMAT = "keras-h5"
"""The stored format of a legacy ``.h5`` model, admitted with the trust flag."""
_TRUST_FIX = (
    "pass trust_code=True with a reason to forgeml.log_model(), forgeml.load_model() or "
    "forgeml.trust_code() (forgeml serve --trust-code), which the audit trail records; "
    "or rebuild the model from Keras layers only, or export it to ONNX and log that"
)


def use_backend() -> None:
    """Keras on TensorFlow where it is installed, else on PyTorch (set before import)."""
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
        os.environ["KERAS_BACKEND"] = "torch"


def owns(model: Any) -> bool:
    """A Keras model, or the path of a saved one (``.keras``, or ``.h5`` with trust)."""
    if isinstance(model, (str, Path)):
        return Path(model).suffix in (".keras", ".h5")
    use_backend()
    import keras

    return isinstance(model, keras.Model)


def dump(model: Any, *, trust_code: bool = False) -> dict[str, tuple[str, bytes]]:
    """The ``.keras`` archive of a model (or of a ``.keras`` file's path), checked.

    A legacy ``.h5`` file's path is stored as is only with ``trust_code=True``.
    """
    use_backend()
    fmt = "keras"
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.suffix == ".h5" and trust_code:
            fmt = H5_FORMAT
        elif path.suffix != ".keras":
            raise UntrustedModel(
                f"{path} is not a .keras archive: legacy .h5 and SavedModel files may "
                "hold Python code and are not loaded",
                fix="load it in Keras 3 and save it again with model.save('model.keras'), "
                "or, for an .h5 file you trust, " + _TRUST_FIX.split("; ")[0],
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
    load({"model": data}, trust_code=trust_code)
    return {"model": (fmt, data)}


def code_in(data: bytes) -> list[str]:
    """What in a stored Keras model runs Python code, so that loading it needs trust.

    Reads only the archive's config (no Keras, no code); [] for a plain ``.keras`` model.
    A config naming code that is never admitted raises UntrustedModel.
    """
    if data.startswith(_H5_MAGIC):
        return ["legacy .h5 archive (may hold Python code)"]
    return check_config(_archive_config(data), trust_code=True)


def check_archive(data: bytes, *, trust_code: bool = False) -> list[str]:
    """Refuse an archive whose ``config.json`` names anything but Keras' own objects.

    Returns what it holds that runs Python code (admitted only with ``trust_code``).
    """
    return check_config(_archive_config(data), trust_code=trust_code)


def check_config(config: Any, *, trust_code: bool = False) -> list[str]:
    """Walk a Keras config; raise UntrustedModel naming every object that is not Keras'.

    Lambda layers are admitted with ``trust_code=True`` and listed in the result; a module
    outside Keras or a custom object is refused whatever the flag says.
    """
    refused: set[str] = set()
    code: set[str] = set()
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
                refused.add(f"{module}.{name} (a function)")
            if name in _CODE_LAYERS:
                code.add(f"{name} layer (Python code)")
            if value.get("registered_name") not in (None, name) and "module" in value:
                refused.add(f"custom object {value['registered_name']}")
            stack.extend(value.values())
    if refused:
        raise UntrustedModel(
            "the Keras model's config.json names code forgeml does not load: "
            + ", ".join(sorted(refused)),
            fix="build the model from Keras layers only (no custom objects or functions), "
            "or export it to ONNX and log that; trust_code does not admit these",
        )
    if code and not trust_code:
        raise UntrustedModel(
            "the Keras model holds code that runs when it is loaded: " + ", ".join(sorted(code)),
            fix=_TRUST_FIX,
        )
    return sorted(code)


def load(
    parts: dict[str, bytes], options: dict[str, Any] | None = None, *, trust_code: bool = False
) -> Any:
    """The model from a checked archive, loaded by Keras with ``safe_mode=True``.

    With ``trust_code=True`` a model holding Lambda layers, or a legacy ``.h5`` file,
    loads with ``safe_mode=False`` (its code runs); the config is still checked first.
    """
    use_backend()
    import keras

    data = parts["model"]
    legacy = data.startswith(_H5_MAGIC)
    if legacy and not trust_code:
        raise UntrustedModel(
            "the stored Keras model is a legacy .h5 file, which may hold Python code",
            fix=_TRUST_FIX,
        )
    code = check_config(_h5_config(data), trust_code=True) if legacy else []
    code += check_archive(data, trust_code=trust_code) if not legacy else []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("model.h5" if legacy else "model.keras")
        path.write_bytes(data)
        safe = not (legacy or code)
        try:
            with _quiet():
                return keras.saving.load_model(path, compile=False, safe_mode=safe)
        except Exception as e:  # Keras refuses or cannot rebuild a layer
            mode = " in safe mode" if safe else ""
            raise UntrustedModel(
                f"Keras refused the stored model{mode} ({type(e).__name__}: {e})",
                fix="build the model from Keras layers only and save it as .keras",
            ) from None


def _archive_config(data: bytes) -> Any:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, ValueError) as e:
        raise UntrustedModel(
            f"the stored Keras model is not a .keras archive ({type(e).__name__}: {e})",
            fix="save the model with model.save('model.keras')",
        ) from None


def _h5_config(data: bytes) -> Any:
    """The model config a legacy .h5 file holds, read with h5py (no Keras, no code)."""
    import h5py  # type: ignore[import-untyped]

    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            return json.loads(f.attrs["model_config"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise UntrustedModel(
            f"the stored .h5 file holds no readable Keras model config ({type(e).__name__})",
            fix="save the model with model.save('model.h5') in Keras, or as .keras",
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
