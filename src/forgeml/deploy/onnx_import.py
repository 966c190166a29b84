"""An MLflow model saved with the ``onnx`` flavor, registered as a forgeml ONNX model.

``mlflow.onnx.save_model`` writes the graph as ``model.onnx`` (``flavors.onnx.data`` in
``MLmodel``) and, by default, its larger tensors in files beside it. Both are read by
onnx's own loader, which keeps every tensor file inside the model folder; an ONNX graph
is operators and tensors, so nothing read runs code. The version stores the whole graph
(tensors inlined) as forgeml's ``onnx`` flavor and is scored by onnxruntime.

Its inputs come from the signature: a tensor signature (MLflow's default for ONNX) takes
its dtype and shape from the graph's input, a column signature gives named columns. A
graph with one input per column (skl2onnx's conversion of a pipeline over a DataFrame)
is fed each column as its own input's type (a double, an int64, a string), the types
recorded in the signature. The task comes from the graph when it holds a classifier's labels
(``ai.onnx.ml`` classifiers and ``ZipMap``); anything else needs ``--task``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from forgeml.errors import ConfigError
from forgeml.project import ProjectLike
from forgeml.registry.versions import ModelVersion, register_model

__all__ = ["class_labels", "import_onnx", "read_onnx"]

_LABELS = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")
_MAX_PROTO = 2**31 - 1  # protobuf's limit for one message


def import_onnx(
    path: Path,
    signature: Any,
    name: str,
    *,
    task: str | None,
    lineage: dict[str, Any],
    project: ProjectLike,
) -> ModelVersion:
    """Register the ONNX graph at ``path`` (an MLflow model's data) as the next ``name``."""
    from forgeml.flavors import require
    from forgeml.registry.byo import model_bundle

    require("onnx", "Importing an ONNX model")
    model = read_onnx(path)
    chosen, classes = _task(task, model, path)
    shape = _inputs(signature, model, path)
    prepared = model_bundle(model, signature_from=shape, task=chosen, classes=classes)
    return register_model(
        name,
        prepared.bundle,
        signature=prepared.signature,
        metrics={},
        lineage={**lineage, "flavor": "onnx"},
        project=project,
    )


def read_onnx(path: Path) -> Any:
    """The ``ModelProto`` at ``path`` with its external tensors (files beside it) inlined."""
    import onnx

    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist: the MLmodel file names it as the ONNX graph",
            fix="pass the folder mlflow.onnx.save_model() wrote, with every file it holds",
        )
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as e:  # onnx's decode, missing-file and path checks
        raise ConfigError(
            f"{path} cannot be read as an ONNX model ({type(e).__name__}: {e})",
            fix="save the model again with mlflow.onnx.save_model, keeping its tensor files "
            "inside the model folder",
        ) from None
    if model.ByteSize() > _MAX_PROTO:
        raise ConfigError(
            f"{path} with its tensors is over 2 GB, more than one ONNX file can hold",
            fix="import a smaller model (forgeml stores an ONNX graph as one file)",
        )
    return model


def class_labels(model: Any) -> list[Any] | None:
    """The class labels a classifier graph lists (``ai.onnx.ml`` nodes), in output order."""
    from onnx import helper

    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name in _LABELS:
                values = helper.get_attribute_value(attribute)
                labels = [v.decode() if isinstance(v, bytes) else int(v) for v in values]
                if labels:
                    return labels
    return None


def _task(task: str | None, model: Any, path: Path) -> tuple[str, list[Any] | None]:
    labels = class_labels(model)
    if task is None:
        if labels is None:
            raise ConfigError(
                f"the task of the ONNX model {path} cannot be read from its graph (it lists "
                "no class labels)",
                fix="pass --task binary, multiclass or regression",
            )
        task = "binary" if len(labels) == 2 else "multiclass"
    if task == "regression":
        return task, None
    if labels is None and task == "binary":
        labels = [0, 1]
    if labels is None:
        width = _output_width(model)
        if width is None:
            raise ConfigError(
                f"the ONNX model {path} lists no class labels and its output has no fixed width",
                fix="export the classifier with its labels (skl2onnx keeps them), or import "
                "it with --task regression",
            )
        labels = list(range(width))
    return task, labels


def _output_width(model: Any) -> int | None:
    """The fixed second size of the graph's last output ([batch, classes]), if it has one."""
    dims = model.graph.output[-1].type.tensor_type.shape.dim
    if len(dims) == 2 and dims[1].HasField("dim_value") and dims[1].dim_value > 0:
        return int(dims[1].dim_value)
    return None


def _inputs(signature: Any, model: Any, path: Path) -> dict[str, Any]:
    """forgeml's signature source: named columns, or the graph's first input as a tensor.

    A graph with one input per column gets one column per input, of that input's type:
    from a column signature (checked against the graph), or from the graph itself.
    """
    from forgeml.flavors.onnx_flavor import graph_columns

    specs = _signature_inputs(signature)
    by_column = bool(specs) and all(s.get("type") != "tensor" for s in specs)
    if by_column:
        from forgeml.deploy.mlflow_import import schema_from_signature

        return {"inputs": schema_from_signature(signature, path.parent)}
    columns = graph_columns(model)
    if columns is not None:
        return {"inputs": columns}
    return {"tensors": [_graph_tensor(model, path)]}


def _graph_inputs(model: Any) -> list[Any]:
    """The graph's inputs that the caller feeds (initializers listed as inputs excluded)."""
    initialized = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initialized]


def _signature_inputs(signature: Any) -> list[dict[str, Any]]:
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return []
    try:
        inputs = json.loads(signature["inputs"])
    except (TypeError, ValueError):
        return []
    return [s for s in inputs if isinstance(s, dict)] if isinstance(inputs, list) else []


def _graph_tensor(model: Any, path: Path) -> dict[str, Any]:
    """``{"name", "dtype", "shape"}`` of the graph's first input, -1 for the batch."""
    from onnx import helper

    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        raise ConfigError(
            f"the ONNX model {path} takes {len(inputs)} inputs; forgeml imports a graph with "
            "one input tensor, or one input per column with a column signature",
            fix="save the model with a column signature (mlflow.models.infer_signature on a "
            "DataFrame) or with a single input",
        )
    tensor = inputs[0].type.tensor_type
    dims = list(tensor.shape.dim)
    fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in dims]
    if not fixed or any(size == -1 for size in fixed[1:]):
        raise ConfigError(
            f"input {inputs[0].name!r} of the ONNX model {path} has no fixed size past the "
            f"batch (shape {fixed})",
            fix="export the model with fixed feature sizes, e.g. [None, 4]",
        )
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type)
    return {"name": inputs[0].name, "dtype": str(dtype), "shape": [-1, *fixed[1:]]}
