"""MLflow's ``onnx`` flavor for the models users bring: an ONNX version as stored, a PyTorch
one converted through ONNX with a parity check.

The folder is the one ``mlflow.onnx.save_model`` writes, with no Python of forgeml's in it,
plus the version's forgeml model directory, which MLflow does not read::

    DIR/
      MLmodel                  flavors onnx and python_function (loader_module mlflow.onnx);
                               metadata.forgeml_model_dir names forgeml/
      model.onnx               the graph: an ONNX version's stored bytes, or a PyTorch
                               module exported by torch.onnx.export at its recorded tensor
      forgeml/                 the model directory (:mod:`forgeml.deploy.modeldir`): the
                               stored parts (model.onnx; model.safetensors and
                               architecture.json), manifest with each file's sha256,
                               signature, task, classes, metrics and lineage; what
                               ``forgeml import mlflow`` registers again
      input_example.json       one input (a tensor: zeros of the recorded shape)
      serving_input_example.json
      requirements.txt         onnx, onnxruntime, numpy and pandas, pinned to this machine's
      python_env.yaml          MLflow's virtualenv description

A PyTorch module's graph is checked before anything is written
(:func:`forgeml.onnx_export.checked_onnx`): onnxruntime must answer a probe batch like the
stored module, within :data:`forgeml.onnx_export.PARITY`. The graph answers the network's
raw outputs (logits, where the module answers logits); forgeml's own serving turns them
into probabilities. A Keras version is refused: forgeml does not convert Keras to ONNX.
"""

from __future__ import annotations

import json
import platform
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from forgeml.errors import ConfigError
from forgeml.flavors import NEURAL
from forgeml.project import Project
from forgeml.registry.versions import ModelVersion

__all__ = ["MODEL_FILE", "PROVIDERS", "mlmodel", "write_mlflow_onnx"]

MODEL_FILE = "model.onnx"
PROVIDERS = ["CPUExecutionProvider"]
_ONNX_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


def write_mlflow_onnx(version: ModelVersion, project: Project, root: Path) -> None:
    """The onnx-flavor MLflow model of a neural ``version`` in the (empty) folder ``root``."""
    data = onnx_graph(version, project)
    (root / MODEL_FILE).write_bytes(data)
    from forgeml.deploy.mlflow_export import MODEL_SUBDIR, python_env, write_input_example
    from forgeml.deploy.modeldir import write_model_dir

    # forgeml's own directory rides along, so 'forgeml import mlflow' restores the version
    write_model_dir(version.ref, root / MODEL_SUBDIR, project=project)

    example = write_input_example(root, version.signature)
    packages = ("onnx", "onnxruntime", "numpy", "pandas")
    requirements = [f"{p}=={metadata.version(p)}" for p in packages]
    (root / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (root / "python_env.yaml").write_text(yaml.safe_dump(python_env(), sort_keys=False))
    document = mlmodel(version, data, example)
    (root / "MLmodel").write_text(yaml.safe_dump(document, sort_keys=False))


def onnx_graph(version: ModelVersion, project: Project) -> bytes:
    """The version's ONNX graph: as stored, or converted with its parity checked."""
    from forgeml.registry.bundle import read_manifest

    refuse_flavor(version.flavor, "an MLflow model (--format mlflow)")
    if version.flavor == "onnx":
        manifest = read_manifest(version.artifact_sha256, project.artifacts)
        stored: bytes = project.artifacts.get_bytes(manifest["parts"]["model"])
        return stored
    from forgeml.onnx_export import checked_onnx
    from forgeml.registry.bundle import load_bundle

    bundle = load_bundle(version.artifact_sha256, project.artifacts)
    return checked_onnx(bundle, version.signature, version.ref).data


def refuse_flavor(flavor: str, target: str) -> None:
    """ConfigError for a neural flavor that ``target`` cannot take through ONNX (keras)."""
    if flavor == "keras":
        raise ConfigError(
            f"a keras model cannot be exported as {target}: MLflow's models are written "
            "through ONNX here, and forgeml does not convert Keras models to ONNX",
            fix="export a model directory or a Docker image instead (forgeml export MODEL@V "
            "--format dir, forgeml build docker), or convert the model with tf2onnx and log "
            "the ONNX file with forgeml.log_model()",
        )
    if flavor not in NEURAL:
        raise ConfigError(
            f"a {flavor} model is not exported through MLflow's onnx flavor",
            fix="export it with 'forgeml export MODEL@V --format mlflow', which writes "
            "its native flavor",
        )


def mlmodel(version: ModelVersion, data: bytes, example: dict[str, Any]) -> dict[str, Any]:
    """The ``MLmodel`` document: flavors ``onnx`` and ``python_function`` over ``data``."""
    import onnx

    from forgeml.deploy.mlflow_export import MODEL_SUBDIR

    flavors = {
        "onnx": {
            "code": None,
            "data": MODEL_FILE,
            "onnx_session_options": None,
            "onnx_version": onnx.__version__,
            "providers": list(PROVIDERS),
        },
        "python_function": {
            "code": None,
            "data": MODEL_FILE,
            "env": {"virtualenv": "python_env.yaml"},
            "loader_module": "mlflow.onnx",
            "python_version": platform.python_version(),
        },
    }
    signature = graph_signature(data, version.signature)
    extras = {"task": version.signature.get("task"), "classes": version.signature.get("classes")}
    return {
        "flavors": flavors,
        "model_size_bytes": len(data),
        "model_uuid": uuid.uuid4().hex,
        "signature": {k: json.dumps(v) for k, v in signature.items()} | {"params": None},
        "saved_input_example_info": example,
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {
            "forgeml_model": version.ref,
            "forgeml_bundle": version.artifact_sha256,
            "forgeml_flavor": version.flavor,
            "forgeml_model_dir": MODEL_SUBDIR,
        }
        | {f"forgeml_{k}": v for k, v in extras.items() if v is not None},
    }


def graph_signature(data: bytes, signature: dict[str, Any]) -> dict[str, Any]:
    """MLflow's signature: the graph's tensors (named as the graph names them, the batch
    axis -1), or for a tabular model its columns, which MLflow's onnx loader stacks."""
    from forgeml.flavors import onnx_flavor

    session = onnx_flavor.load({"model": data})
    if signature.get("tensors"):
        recorded = signature["tensors"][0]
        inputs = [_tensor(session.get_inputs()[0], recorded["shape"])]
    else:
        from forgeml.deploy.mlflow_export import mlflow_signature

        inputs = mlflow_signature(signature, {})["inputs"]
    outputs = [_tensor(o, None) for o in session.get_outputs()]
    return {"inputs": inputs, "outputs": outputs}


def _tensor(node: Any, shape: list[int] | None) -> dict[str, Any]:
    if shape is None:
        shape = [d if isinstance(d, int) else -1 for d in node.shape]
    dtype = _ONNX_DTYPES.get(node.type, "float32")
    return {"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}, "name": node.name}
