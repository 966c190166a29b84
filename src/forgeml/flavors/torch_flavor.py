"""PyTorch modules: weights as safetensors, the architecture as ``module:Class`` + JSON.

Loading imports the named class, builds it from its JSON keyword arguments and copies the
weights in from a safetensors file: no ``torch.load``, no pickle, at any point. A module
whose class cannot be imported by name (one defined in ``__main__`` or a notebook) is
refused when it is saved, with the fix.

>>> import torch
>>> from forgeml.flavors.nets import MLP
>>> net = MLP(inputs=3, outputs=2, hidden=[4])
>>> parts = dump(net)
>>> sorted((name, fmt) for name, (fmt, _) in parts.items())
[('architecture', 'json'), ('model', 'safetensors')]
>>> back = load({name: data for name, (_, data) in parts.items()})
>>> x = np.zeros((2, 3), dtype=np.float32)
>>> bool(np.allclose(predict(back, x), predict(net, x)))
True
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import numpy as np

from forgeml.errors import ArtifactError, ConfigError

__all__ = ["architecture", "dump", "load", "owns", "predict"]


def owns(model: Any) -> bool:
    import torch

    return isinstance(model, torch.nn.Module)


def architecture(model: Any, init: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"class": "module:Class", "init": {...}}`` for a module, checked to rebuild.

    ``init`` are the constructor's keyword arguments; by default they are read from the
    module's attributes of the same names (``self.hidden = hidden``) or its
    ``init_kwargs`` attribute.
    """
    cls = type(model)
    path = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<" in cls.__qualname__:
        raise ConfigError(
            f"the PyTorch module's class {path} cannot be imported by name, so it could "
            "not be rebuilt when the model is loaded",
            fix="define the class in a module of your package (mypkg/nets.py) and import "
            "it from there",
        )
    if init is None:
        init = _init_kwargs(model)
    try:
        text = json.dumps(init, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"the init keyword arguments of {path} are not JSON ({e})",
            fix="pass init= with numbers, strings, lists and dicts only",
        ) from None
    return {"class": path, "init": json.loads(text)}


def dump(model: Any, *, init: dict[str, Any] | None = None) -> dict[str, tuple[str, bytes]]:
    """The module's parts; refuses one that could not be rebuilt from them."""
    from safetensors.torch import save

    arch = architecture(model, init)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    parts = {
        "model": ("safetensors", save(state)),
        "architecture": ("json", json.dumps(arch, sort_keys=True).encode()),
    }
    load({name: data for name, (_, data) in parts.items()})  # rebuilds, or says why not
    return parts


def load(
    parts: dict[str, bytes], options: dict[str, Any] | None = None, *, trust_code: bool = False
) -> Any:
    """The module rebuilt from its architecture and safetensors weights, in eval mode.

    ``trust_code`` changes nothing: no part of this format holds code to admit.
    """
    from safetensors.torch import load as load_weights

    arch = _read_architecture(parts["architecture"])
    cls = _import_class(arch["class"])
    try:
        model = cls(**arch["init"])
        model.load_state_dict(load_weights(parts["model"]), strict=True)
    except Exception as e:  # the class's own error: wrong kwargs, shapes that differ
        raise ArtifactError(
            f"the PyTorch module {arch['class']} cannot be rebuilt from its stored "
            f"architecture and weights ({type(e).__name__}: {e})",
            fix="pass log_model(init={...}) with the keyword arguments the class takes",
        ) from None
    model.eval()
    return model


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    """The module's outputs for a float batch, without gradients."""
    import torch

    with torch.inference_mode():
        out = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return np.asarray(out.detach().cpu().numpy(), dtype=np.float64)


def _init_kwargs(model: Any) -> dict[str, Any]:
    given = getattr(model, "init_kwargs", None)
    if isinstance(given, dict):
        return dict(given)
    found: dict[str, Any] = {}
    for name, param in inspect.signature(type(model).__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if hasattr(model, name) and not callable(getattr(model, name)):
            found[name] = getattr(model, name)
        elif param.default is inspect.Parameter.empty:
            raise ConfigError(
                f"cannot tell the argument {name!r} of {type(model).__qualname__}() from "
                "the module",
                fix=f"pass log_model(init={{'{name}': ...}}) with the constructor's "
                "keyword arguments, or keep it as an attribute (self.{name} = {name})",
            )
    return found


def _read_architecture(data: bytes) -> dict[str, Any]:
    try:
        arch = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        arch = None
    if (
        not isinstance(arch, dict)
        or not isinstance(arch.get("class"), str)
        or not isinstance(arch.get("init"), dict)
    ):
        raise ArtifactError(
            "the stored PyTorch architecture is not {'class': 'module:Class', 'init': {...}}",
            fix="log the model again with forgeml.log_model()",
        )
    return arch


def _import_class(path: str) -> Any:
    import torch

    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as e:
        raise ArtifactError(
            f"the PyTorch module class {path} cannot be imported ({e})",
            fix=f"install the package that defines {path} where the model is loaded",
        ) from None
    if not (isinstance(found, type) and issubclass(found, torch.nn.Module)):
        raise ArtifactError(
            f"{path} is not a torch.nn.Module class, so it is not built",
            fix="store a model whose architecture names its nn.Module subclass",
        )
    return found
