"""``forgeml export MODEL@V --format onnx``: a registered model as an ONNX graph.

The graph takes the model's feature matrix (``float32[-1, features]``: for a logged
tabular model, its input columns in signature order; for a tensor model, its tensor) and
answers the model's raw outputs (probabilities for classifiers, values for regressors,
a network's outputs as it computes them). scikit-learn estimators and pipelines are
converted by skl2onnx, LightGBM and XGBoost boosters by onnxmltools, PyTorch modules by
``torch.onnx.export``; an ONNX model is written as stored.

Every export is checked before it is written (:func:`checked_onnx`, which MLflow's onnx
flavor export uses too): onnxruntime scores example rows drawn across the signature's
ranges and the answers must match the stored model's within :data:`PARITY` (max absolute
difference), else nothing is written. A tensor model's graph names its input after the
recorded tensor (``image`` in ``float32[-1, 1, 8, 8]``).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forgeml.errors import ConfigError, ForgemlError, MissingDependency
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry import ModelBundle, load_bundle, model_version

__all__ = [
    "PARITY",
    "CheckedOnnx",
    "Exported",
    "checked_onnx",
    "export_onnx",
    "onnx_bytes",
    "parity_rows",
]

PARITY = 1e-5


@dataclass(frozen=True)
class Exported:
    """A written ONNX file and how closely it reproduces the stored model."""

    ref: str
    path: Path
    size: int
    rows: int
    max_abs_diff: float


@dataclass(frozen=True)
class CheckedOnnx:
    """A model's ONNX graph and how closely it reproduced the stored model on probe rows."""

    data: bytes
    rows: int
    max_abs_diff: float


def checked_onnx(
    bundle: ModelBundle, signature: dict[str, Any], ref: str, *, tolerance: float = PARITY
) -> CheckedOnnx:
    """The model of version ``ref`` as an ONNX graph, refused (ForgemlError) unless
    onnxruntime answers a probe batch like the stored model, within ``tolerance``."""
    rows = parity_rows(bundle, signature)
    tensors = bundle.extras.get("tensors")
    name = str(tensors[0]["name"]) if tensors else "input"
    data = onnx_bytes(bundle, rows.shape[1:], input_name=name)
    diff = _max_diff(bundle, data, rows)
    if not diff <= tolerance:
        raise ForgemlError(
            f"the ONNX graph of {ref} differs from the stored model by {diff:.3g} "
            f"(more than {tolerance:g}) on {len(rows)} probe rows; nothing was written",
            fix="export the model with its own library's ONNX converter and log that; a "
            "PyTorch module whose forward() branches on its input's values traces one branch "
            "only",
        )
    return CheckedOnnx(data, len(rows), diff)


def export_onnx(
    ref: str, output: str | os.PathLike[str] | None = None, *, project: ProjectLike = None
) -> Exported:
    """Convert model version ``ref`` to ONNX, check parity, and write it atomically."""
    found = resolve_project(project)
    version = model_version(ref, project=found)
    bundle = load_bundle(version.artifact_sha256, found.artifacts)
    checked = checked_onnx(bundle, version.signature, version.ref)
    data = checked.data
    path = Path(output) if output is not None else Path(f"{version.name}-{version.version}.onnx")
    with tempfile.NamedTemporaryFile(dir=path.parent or ".", delete=False) as temp:
        temp.write(data)
    os.replace(temp.name, path)  # the file appears whole or not at all
    return Exported(version.ref, path, len(data), checked.rows, checked.max_abs_diff)


def parity_rows(bundle: ModelBundle, signature: dict[str, Any], count: int = 64) -> np.ndarray:
    """float32 rows across the signature's ranges (or its tensor shape), seeded."""
    rng = np.random.default_rng(0)
    tensors = bundle.extras.get("tensors")
    if tensors:
        shape = [count if s == -1 else int(s) for s in tensors[0]["shape"]]
        return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
    from forgeml.training.predict import Predictor

    names = Predictor(bundle).pipeline.feature_names
    by_name = {c["name"]: c for c in signature.get("inputs", [])}
    columns = []
    for name in names:
        column = by_name.get(name, {})
        low, high = column.get("min"), column.get("max")
        low = -3.0 if low is None else float(low)
        high = 3.0 if high is None else float(high)
        columns.append(rng.uniform(low, high, size=count))
    return np.column_stack(columns).astype(np.float32)


def onnx_bytes(
    bundle: ModelBundle, row_shape: tuple[int, ...], *, input_name: str = "input"
) -> bytes:
    """The bundle's model as a serialized ONNX graph with a dynamic batch axis."""
    flavor, model = bundle.flavor, bundle.estimator
    if flavor == "onnx":
        raise ConfigError(
            "this version is an ONNX model already",
            fix="read it from the store as it is; 'forgeml scan' shows its part",
        )
    if flavor == "keras":
        raise ConfigError(
            "forgeml does not convert Keras models to ONNX",
            fix="convert it with tf2onnx (TensorFlow backend) or log the ONNX model itself",
        )
    if flavor == "torch":
        return _torch(model, row_shape, input_name)
    width = int(np.prod(row_shape))
    try:
        if flavor == "sklearn":
            from skl2onnx.common.data_types import FloatTensorType
        else:
            from onnxmltools.convert.common.data_types import FloatTensorType
    except ImportError:
        raise MissingDependency("onnxmltools", "onnx", "Exporting to ONNX") from None
    named = getattr(model, "feature_names_in_", None)
    if flavor == "sklearn" and named is not None:  # a pipeline that selects columns by name
        types = [(str(n), FloatTensorType([None, 1])) for n in named]
    else:
        types = [("input", FloatTensorType([None, width]))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if flavor == "lightgbm":
            from onnxmltools import convert_lightgbm

            graph = convert_lightgbm(
                getattr(model, "booster_", model), initial_types=types, zipmap=False
            )
        elif flavor == "xgboost":
            graph = _xgboost(model, types)
        else:
            from skl2onnx import to_onnx

            options = {id(model): {"zipmap": False}} if hasattr(model, "predict_proba") else None
            graph = to_onnx(model, initial_types=types, options=options, target_opset=17)
    data: bytes = graph.SerializeToString()
    return data


def _xgboost(booster: Any, types: list[Any]) -> Any:
    import xgboost
    from onnxmltools import convert_xgboost

    # onnxmltools reads features named f0, f1, ...: rename a copy fitted on a frame
    plain = xgboost.Booster()
    plain.load_model(bytearray(booster.save_raw("json")))
    plain.feature_names = None
    return convert_xgboost(plain, initial_types=types)


def _torch(model: Any, row_shape: tuple[int, ...], input_name: str) -> bytes:
    import torch

    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            model,
            (torch.zeros((1, *row_shape)),),
            path,
            input_names=[input_name],
            output_names=["output"],
            dynamic_axes={input_name: {0: "batch"}, "output": {0: "batch"}},
            dynamo=False,
        )
        return path.read_bytes()


def _max_diff(bundle: ModelBundle, data: bytes, rows: np.ndarray) -> float:
    from forgeml.flavors import onnx_flavor

    session = onnx_flavor.load({"model": data})
    exported = onnx_flavor.predict(session, rows)
    expected = _raw(bundle, rows)
    if expected.ndim == 1 and exported.ndim == 2 and exported.shape[1] in (1, 2):
        exported = exported[:, -1]  # a regressor's column, or P(positive class)
    if exported.shape != expected.shape:
        return float("inf")
    return float(np.max(np.abs(exported - expected)))


def _raw(bundle: ModelBundle, rows: np.ndarray) -> np.ndarray:
    """The stored model's own raw outputs (before calibration or thresholds)."""
    model, flavor = bundle.estimator, bundle.flavor
    x = rows.astype(np.float64)
    if flavor == "torch":
        from forgeml.flavors import torch_flavor

        return torch_flavor.predict(model, rows)
    if flavor == "lightgbm":
        booster = getattr(model, "booster_", model)
        return np.asarray(booster.predict(x), dtype=np.float64)
    if flavor == "xgboost":
        import xgboost

        names = getattr(model, "feature_names", None)
        return np.asarray(model.predict(xgboost.DMatrix(x, feature_names=names)), dtype=np.float64)
    given: Any = x
    if bundle.extras.get("frame"):
        import pandas as pd

        given = pd.DataFrame(x, columns=list(model.feature_names_in_))
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(given), dtype=np.float64)
    return np.asarray(model.predict(given), dtype=np.float64)
