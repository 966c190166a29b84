"""``forgeml.log_model``: register a model trained in the user's own code.

A fitted scikit-learn estimator or ``Pipeline``, a LightGBM or XGBoost model, a PyTorch
``nn.Module``, a Keras 3 model or an ONNX model becomes the next version of a registered
model, with the same checks as a trained one (it must predict on example rows) and then
the same gate, serving and monitoring. Its signature comes from a sample of its input:

* a table (pandas, polars, Arrow) gives a *tabular* signature: the numeric and boolean
  columns, in order, with their ranges; the model receives them as a float matrix;
* an array gives a *tensor* signature (neural flavors): its dtype and shape, with -1 for
  the batch, e.g. ``float32[-1, 1, 8, 8]``.

>>> import tempfile
>>> import pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> from forgeml import Project
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
>>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
>>> version = log_model(model, name="toy", signature_from=X, project=project)
>>> version.ref, version.flavor, version.signature["task"]
('toy@1', 'sklearn', 'binary')
>>> project.close()
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from typing import Any, Literal

import numpy as np

from forgeml.errors import ConfigError
from forgeml.flavors import NEURAL
from forgeml.project import ProjectLike, resolve_project, who
from forgeml.registry.bundle import ModelBundle
from forgeml.registry.versions import ModelVersion, register_model

__all__ = ["PreparedModel", "detect_flavor", "log_model", "model_bundle", "tensor_signature"]

Outputs = Literal["logits", "probabilities"]
_TASKS = ("binary", "multiclass", "regression")
_NUMERIC_KINDS = ("integer", "float", "boolean")


def log_model(
    model: Any,
    *,
    name: str,
    signature_from: Any,
    task: str | None = None,
    classes: list[Any] | None = None,
    outputs: Outputs | None = None,
    target: str | None = None,
    dataset: str | None = None,
    run: Any = None,
    metrics: Mapping[str, Any] | None = None,
    init: dict[str, Any] | None = None,
    trust_code: bool = False,
    trust_reason: str | None = None,
    project: ProjectLike = None,
) -> ModelVersion:
    """Register ``model`` as the next version of ``name``; returns the ModelVersion.

    ``signature_from`` is a sample of the input (a table or an array) or a signature
    dict (``{"inputs": [...]}`` or ``{"tensors": [...]}``). ``task`` is ``binary``,
    ``multiclass`` or ``regression`` (read from a scikit-learn-style classifier when
    omitted); ``classes`` the class values in output order; ``outputs`` whether a
    network answers ``"logits"`` (PyTorch's default here) or ``"probabilities"``.
    ``dataset`` (``"name@v"``) and ``target`` name the labelled rows ``forgeml gate``
    evaluates the version on; ``run`` (a Run or its id) links the training run; ``init``
    are a PyTorch module's constructor arguments when they are not its attributes.

    ``trust_code=True`` (with ``trust_reason``, required) admits a Keras model holding
    Lambda layers, or a legacy ``.h5`` file's path: its code runs when it loads. The
    grant is recorded in the audit trail (:func:`forgeml.registry.code_trust.trust_code`)
    and loading or serving the version later needs the flag again.
    """
    from forgeml.registry.code_trust import check_reason, trusting
    from forgeml.registry.code_trust import trust_code as audit_trust

    found = resolve_project(project)
    if trust_code:
        trust_reason = check_reason(trust_reason, f"the {name!r} model being logged")
    prepared = model_bundle(
        model,
        signature_from=signature_from,
        task=task,
        classes=classes,
        outputs=outputs,
        target=target,
        init=init,
    )
    flavor, bundle, signature = prepared.bundle.flavor, prepared.bundle, prepared.signature
    lineage: dict[str, Any] = {"source": "log_model", "flavor": flavor, "logged_by": who()}
    if dataset is not None:
        from forgeml.data import dataset as dataset_version

        if target is None:
            raise ConfigError(
                f"dataset={dataset!r} is named but not its label column",
                fix="pass target='COLUMN' with dataset=, so the gate can score the version",
            )
        lineage["dataset"] = signature["dataset"] = dataset_version(dataset, project=found).ref
    run_id = run if isinstance(run, str) or run is None else run.id
    if run is not None and not isinstance(run, str) and run.status == "running":
        from forgeml.training.autolog import log_fitted

        log_fitted(run, model, flavor)  # hyperparameters and the library's training curves
    with trusting(trust_code):  # saving checks that the bundle loads back
        version = register_model(
            name,
            bundle,
            signature=signature,
            metrics=dict(metrics or {}),
            lineage=lineage,
            run_id=run_id,
            project=found,
        )
        if trust_code:
            audit_trust(version.ref, reason=str(trust_reason), action="log", project=found)
        if dataset is None or "tensors" in signature:  # else fitted from the dataset's rows
            _store_reference(version, signature_from, found)
    return version


@dataclass(frozen=True)
class PreparedModel:
    """A fitted model as forgeml stores it: its bundle and input signature (not yet saved)."""

    bundle: ModelBundle
    signature: dict[str, Any]


def model_bundle(
    model: Any,
    *,
    signature_from: Any,
    task: str | None = None,
    classes: list[Any] | None = None,
    outputs: Outputs | None = None,
    target: str | None = None,
    init: dict[str, Any] | None = None,
) -> PreparedModel:
    """The bundle and signature :func:`log_model` registers for ``model`` (arguments alike)."""
    flavor = detect_flavor(model)
    estimator = _estimator(model, flavor)
    task, classes = _task(estimator, task, classes)
    extras: dict[str, Any] = {"task": task, "classes": classes, "byo": True, "target": target}
    if flavor in NEURAL:
        extras["outputs"] = outputs or ("logits" if flavor == "torch" else "probabilities")
    if flavor == "torch" and init is not None:
        extras["init"] = init
    signature: dict[str, Any] = {"task": task, "classes": classes, "target": target}
    shape = _signature_source(signature_from, flavor)
    features: dict[str, Any] = {}
    if shape["kind"] == "tensors":
        from forgeml.serve.tensors import summary_columns

        extras["tensors"] = signature["tensors"] = shape["tensors"]
        signature["inputs"] = summary_columns(shape["tensors"])  # what monitoring watches
    else:
        from forgeml.features import FeaturePipeline
        from forgeml.features.encoders import NumberEncoder

        columns = shape["inputs"]
        if flavor == "onnx":
            columns = _onnx_columns(estimator, columns)
            if len({c.get("dtype") for c in columns}) > 1:  # else one float block feeds it
                extras["feeds"] = [c["name"] for c in columns]
        signature["inputs"] = columns
        names = [c["name"] for c in columns]
        features = FeaturePipeline([NumberEncoder(n) for n in names], strategy="tree").to_dict()
        extras["frame"] = bool(getattr(estimator, "feature_names_in_", None) is not None)
    bundle = ModelBundle(flavor, estimator, features, extras)  # type: ignore[arg-type]
    return PreparedModel(bundle, signature)


def _onnx_columns(model: Any, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The columns in the graph's input order, each with the type its input takes.

    A graph with one input is fed the columns as one matrix, in the signature's order.
    """
    from forgeml.flavors.onnx_flavor import graph_columns

    graph = graph_columns(model)
    if graph is None:
        strings = [c["name"] for c in columns if c.get("kind") not in _NUMERIC_KINDS]
        if strings:
            raise ConfigError(
                f"the ONNX model takes one input tensor, so it cannot be fed the string "
                f"columns {', '.join(strings)}",
                fix="encode those columns to numbers before converting, or export the model "
                "with one input per column (skl2onnx does for a DataFrame)",
            )
        return columns
    given = {c["name"]: c for c in columns}
    if sorted(given) != sorted(c["name"] for c in graph):
        raise ConfigError(
            f"the ONNX model takes inputs {', '.join(c['name'] for c in graph)} but the "
            f"signature lists columns {', '.join(given)}",
            fix="give the signature the columns of the frame the model was converted from",
        )
    out = []
    for column in graph:
        sent = given[column["name"]]
        agrees = (sent.get("kind") in _NUMERIC_KINDS) == (column["kind"] != "category")
        if not agrees:  # a number column for a string input, or the other way round
            raise ConfigError(
                f"column {column['name']!r} is {sent.get('kind')} in the signature but the "
                f"ONNX model's input of that name takes {column['dtype']}",
                fix="give the signature the column types of the frame the model was converted from",
            )
        out.append({**sent, "dtype": column["dtype"]})  # the kind a request sends: as given
    return out


def _store_reference(version: ModelVersion, sample: Any, project: Any) -> None:
    """The sample's profile (tensors: their summary statistics) as the drift reference."""
    import json

    from forgeml.monitor.reference import fit_reference
    from forgeml.monitor.references import store_reference
    from forgeml.registry.versions import load_model

    if isinstance(sample, Mapping) or len(sample) < 2:
        return  # a schema, or too few rows to profile: fitted on first use instead
    if _is_table(sample):
        from forgeml.data.sources import read_frame

        store_reference(version, project=project, table=read_frame(sample).table)
        return
    import pyarrow as pa

    from forgeml.serve.tensors import summary_stats
    from forgeml.training.predict import Predictor

    tensor = version.signature["tensors"][0]
    array = _array(sample).astype(tensor["dtype"], copy=False)
    _, bundle = load_model(version.ref, project=project)
    scores = Predictor(bundle).scores(array)
    if scores.ndim == 2:  # multiclass: the top class's probability, as the log keeps it
        scores = scores.max(axis=1)
    table = pa.table(summary_stats(tensor["name"], array))
    reference = fit_reference(table, version.signature["inputs"], scores=scores)
    document = json.dumps(reference.to_dict(), allow_nan=False).encode()
    project.artifacts.put_named(f"references/{version.name}/{version.version}.json", document)


def detect_flavor(model: Any) -> str:
    """The flavor of a fitted model object, from the library its class comes from."""
    root = type(model).__module__.split(".", 1)[0]
    if isinstance(model, (str, PathLike)) and str(model).endswith((".keras", ".h5")):
        return "keras"  # a saved Keras file's path
    if root in ("lightgbm", "xgboost", "sklearn"):
        return root
    if root == "onnx" or isinstance(model, (bytes, bytearray)):
        return "onnx"
    # before torch: on the PyTorch backend a Keras model is also an nn.Module
    if root == "keras" or _is_subclass_of(model, "keras.src.models.model.Model"):
        return "keras"
    if root == "torch" or _is_subclass_of(model, "torch.nn.modules.module.Module"):
        return "torch"
    if hasattr(model, "predict") and hasattr(model, "get_params"):
        return "sklearn"  # a scikit-learn compatible estimator; the allow-list decides
    raise ConfigError(
        f"forgeml cannot log a {type(model).__module__}.{type(model).__qualname__}",
        fix="pass a fitted scikit-learn estimator or Pipeline, a LightGBM or XGBoost "
        "model, a PyTorch nn.Module, a Keras 3 model or an ONNX model",
    )


def tensor_signature(sample: Any, name: str = "input") -> dict[str, Any]:
    """``{"name", "dtype", "shape"}`` of an array sample, with -1 for the batch.

    >>> tensor_signature(np.zeros((4, 1, 8, 8), dtype=np.float32), "image")
    {'name': 'image', 'dtype': 'float32', 'shape': [-1, 1, 8, 8]}
    """
    array = _array(sample)
    if array.ndim < 1:
        raise ConfigError(
            "signature_from= is a scalar, not a batch of inputs",
            fix="pass a few example inputs stacked along the first axis",
        )
    return {"name": name, "dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}


def _is_subclass_of(model: Any, qualified: str) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" == qualified for c in type(model).__mro__)


def _estimator(model: Any, flavor: str) -> Any:
    if flavor == "onnx" and isinstance(model, (bytes, bytearray)):
        import onnx

        return onnx.load_from_string(bytes(model))
    return model


def _task(estimator: Any, task: str | None, classes: list[Any] | None) -> tuple[str, Any]:
    known = getattr(estimator, "classes_", None)
    if classes is None and known is not None:
        classes = np.asarray(known).tolist()
    if task is None:
        if classes is None:
            raise ConfigError(
                f"the task of a {type(estimator).__name__} cannot be read from it",
                fix="pass task='binary', 'multiclass' or 'regression'",
            )
        task = "binary" if len(classes) == 2 else "multiclass"
    if task not in _TASKS:
        raise ConfigError(
            f"task={task!r} is not a task forgeml serves",
            fix="pass task= one of " + ", ".join(map(repr, _TASKS)),
        )
    if task == "multiclass" and not classes:
        raise ConfigError(
            "a multiclass model needs its class values in output order",
            fix="pass classes=[...] (one per output column)",
        )
    return task, classes


def _signature_source(sample: Any, flavor: str) -> dict[str, Any]:
    if isinstance(sample, Mapping) and ("inputs" in sample or "tensors" in sample):
        if "tensors" in sample:
            return {"kind": "tensors", "tensors": [_checked_tensor(t) for t in sample["tensors"]]}
        return {"kind": "inputs", "inputs": [dict(c) for c in sample["inputs"]]}
    if _is_table(sample):
        return {"kind": "inputs", "inputs": _columns(sample, strings=flavor == "onnx")}
    array = _array(sample)
    if flavor in NEURAL:
        return {"kind": "tensors", "tensors": [tensor_signature(array)]}
    if array.ndim != 2:
        raise ConfigError(
            f"signature_from= is an array of shape {array.shape}; a {flavor} model takes a table",
            fix="pass a DataFrame sample of the columns the model was fitted on",
        )
    import pyarrow as pa

    table = pa.table({f"x{i}": array[:, i] for i in range(array.shape[1])})
    return {"kind": "inputs", "inputs": _columns(table)}


def _checked_tensor(spec: Any) -> dict[str, Any]:
    ok = (
        isinstance(spec, Mapping)
        and isinstance(spec.get("name"), str)
        and isinstance(spec.get("shape"), list)
        and all(isinstance(s, int) and (s > 0 or s == -1) for s in spec["shape"])
    )
    try:
        dtype = str(np.dtype(spec.get("dtype", "float32"))) if ok else ""
    except TypeError:
        ok = False
    if not ok or spec["shape"][:1] != [-1]:
        raise ConfigError(
            f"tensor signature {spec!r} is not {{'name': str, 'dtype': str, 'shape': [-1, ...]}}",
            fix="give each tensor a name, a NumPy dtype and a shape whose first size is "
            "-1 (the batch)",
        )
    return {"name": spec["name"], "dtype": dtype, "shape": list(spec["shape"])}


def _is_table(sample: Any) -> bool:
    module = type(sample).__module__.split(".", 1)[0]
    return module in ("pandas", "polars", "pyarrow")


def _columns(sample: Any, *, strings: bool = False) -> list[dict[str, Any]]:
    from forgeml.data.normalize import normalize
    from forgeml.data.profile import profile_table
    from forgeml.data.schema import infer_schema
    from forgeml.data.sources import read_frame

    table = normalize(read_frame(sample).table)
    columns: list[dict[str, Any]] = infer_schema(table, profile_table(table))["columns"]
    allowed = (*_NUMERIC_KINDS, "category", "text") if strings else _NUMERIC_KINDS
    other = [f"{c['name']} ({c['kind']})" for c in columns if c["kind"] not in allowed]
    if other:
        raise ConfigError(
            "a logged model takes numeric and boolean columns; signature_from= also has "
            + ", ".join(other),
            fix="encode those columns to numbers before fitting, or register the model "
            "with a tensor signature",
        )
    return columns


def _array(sample: Any) -> np.ndarray:
    detach = getattr(sample, "detach", None)  # a torch tensor
    if detach is not None:
        return np.asarray(detach().cpu().numpy())
    return np.asarray(sample)
