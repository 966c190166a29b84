"""``forgeml export MODEL@V --format mlflow DIR``: an MLflow model, written without MLflow.

The folder is a model in MLflow's own format::

    DIR/
      MLmodel                  flavors, signature, input example (YAML)
      forgeml/                 the forgeml model directory (manifest, model file, schema)
      code/forgeml_pyfunc.py   the python_function loader MLflow imports
      input_example.json       one record, pandas "split" orientation
      serving_input_example.json
      requirements.txt         forgeml and the model's library, pinned
      python_env.yaml          MLflow's virtualenv description

``MLmodel`` lists the native flavor (``lightgbm`` with the model text, ``xgboost`` with its
JSON model, ``sklearn`` with ``serialization_format: skops``), whose file is the one inside
``forgeml/``, plus ``python_function``, which predicts on the raw input columns through
forgeml's preprocessing. The native flavor takes the encoded feature matrix; the
signature describes the raw columns that ``python_function`` takes.

A model the user brought is written in MLflow's ``onnx`` flavor instead
(:mod:`forgeml.deploy.mlflow_onnx`): an ONNX version as stored, a PyTorch module through
ONNX with a parity check. A Keras version is refused with what to do instead. Either way
``metadata.forgeml_model_dir`` names the ``forgeml/`` model directory the folder carries,
which ``forgeml import mlflow`` registers again as it was.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from forgeml.deploy.modeldir import ModelDir, example_record, write_model_dir
from forgeml.deploy.pyfunc import LOADER_SOURCE, output_names
from forgeml.deploy.staging import empty_target, staged
from forgeml.flavors import NEURAL
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.versions import model_version

__all__ = [
    "LOADER_MODULE",
    "MLFLOW_TYPES",
    "export_mlflow",
    "mlflow_signature",
    "write_input_example",
]

LOADER_MODULE = "forgeml_pyfunc"
MODEL_SUBDIR = "forgeml"
MLFLOW_TYPES = {
    "integer": "long",
    "float": "double",
    "category": "string",
    "boolean": "boolean",
    "timestamp": "datetime",
    "text": "string",
}
"""forgeml's column kinds as MLflow column types."""


def export_mlflow(ref: str, out: str | os.PathLike[str], *, project: ProjectLike = None) -> Path:
    """Write model version ``ref`` as an MLflow model in ``out`` (new or empty); its path."""
    target = empty_target(out)
    found = resolve_project(project)
    version = model_version(ref, project=found)
    if version.flavor in NEURAL:
        from forgeml.deploy.mlflow_onnx import refuse_flavor, write_mlflow_onnx

        refuse_flavor(version.flavor, "an MLflow model (--format mlflow)")
    with staged(target) as staging:
        if version.flavor in NEURAL:
            write_mlflow_onnx(version, found, staging)
        else:
            written = write_model_dir(version.ref, staging / MODEL_SUBDIR, project=found)
            write_mlflow_files(written, staging)
    return target


def write_mlflow_files(found: ModelDir, root: Path) -> None:
    """MLmodel, the loader, the example and the environment files beside ``found``."""
    code = root / "code"
    code.mkdir()
    (code / f"{LOADER_MODULE}.py").write_text(LOADER_SOURCE)
    write_input_example(root, found.signature)
    requirements = found.file("requirements").read_text().splitlines()
    requirements.append(f"pandas=={metadata.version('pandas')}")  # pyfunc's inputs
    (root / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (root / "python_env.yaml").write_text(yaml.safe_dump(python_env(), sort_keys=False))
    document = mlmodel(found)
    (root / "MLmodel").write_text(yaml.safe_dump(document, sort_keys=False))


def mlmodel(found: ModelDir) -> dict[str, Any]:
    """The ``MLmodel`` document for a model directory placed at ``forgeml/``."""
    model_file = f"{MODEL_SUBDIR}/{found.model_file}"
    flavors: dict[str, Any] = {
        "python_function": {
            "env": {"virtualenv": "python_env.yaml"},
            "loader_module": LOADER_MODULE,
            "code": "code",
            "data": MODEL_SUBDIR,
            "python_version": platform.python_version(),
        }
    }
    flavors.update(_native_flavor(found.flavor, model_file))
    signature = mlflow_signature(found.signature, found.extras)
    size = sum(f.stat().st_size for f in found.path.iterdir() if f.is_file())
    return {
        "flavors": flavors,
        "model_size_bytes": size,
        "model_uuid": uuid.uuid4().hex,
        "signature": {k: json.dumps(v) for k, v in signature.items()} | {"params": None},
        "saved_input_example_info": _EXAMPLE_INFO["dataframe"],
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {
            "forgeml_model": found.ref,
            "forgeml_bundle": found.manifest["bundle_sha256"],
            "forgeml_model_dir": MODEL_SUBDIR,
        },
    }


_EXAMPLE_INFO: dict[str, dict[str, Any]] = {
    "dataframe": {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    },
    "ndarray": {
        "artifact_path": "input_example.json",
        "type": "ndarray",
        "format": "tf-serving",
        "serving_input_path": "serving_input_example.json",
    },
}


def write_input_example(root: Path, signature: dict[str, Any]) -> dict[str, Any]:
    """``input_example.json`` and ``serving_input_example.json`` in MLflow's formats (a
    one-row DataFrame, or a tensor batch of one); their ``saved_input_example_info``."""
    example = example_record(signature)
    if signature.get("tensors"):
        batch = {"inputs": [next(iter(example.values()))]}
        (root / "input_example.json").write_text(json.dumps(batch, default=str))
        (root / "serving_input_example.json").write_text(json.dumps(batch, default=str))
        return dict(_EXAMPLE_INFO["ndarray"])
    columns = [str(c["name"]) for c in signature.get("inputs", []) if c["name"] in example]
    split = {"columns": columns, "data": [[example[c] for c in columns]]}
    (root / "input_example.json").write_text(json.dumps(split, default=str))
    serving = {"dataframe_split": split}
    (root / "serving_input_example.json").write_text(json.dumps(serving, default=str))
    return dict(_EXAMPLE_INFO["dataframe"])


def mlflow_signature(signature: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """MLflow's column-based signature (``inputs`` and ``outputs``) from forgeml's."""
    inputs = []
    for column in signature.get("inputs", []):
        if not isinstance(column, dict):
            continue
        kind = str(column.get("kind"))
        inputs.append(
            {
                "type": MLFLOW_TYPES.get(kind, "string"),
                "name": str(column["name"]),
                "required": not column.get("nullable", True),
            }
        )
    task = str(extras.get("task") or signature.get("task") or "regression")
    outputs = [
        {"type": "double", "name": name, "required": True}
        for name in output_names(task, extras.get("classes"))
    ]
    return {"inputs": inputs, "outputs": outputs}


def python_env() -> dict[str, Any]:
    """MLflow's ``python_env.yaml``: this Python, and requirements.txt."""
    build = []
    for package in ("pip", "setuptools", "wheel"):
        try:
            build.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            build.append(package)
    return {
        "python": platform.python_version(),
        "build_dependencies": build,
        "dependencies": ["-r requirements.txt"],
    }


def _native_flavor(flavor: str, model_file: str) -> dict[str, Any]:
    if flavor == "lightgbm":
        return {
            "lightgbm": {
                "code": None,
                "data": model_file,
                "lgb_version": metadata.version("lightgbm"),
                "model_class": "lightgbm.basic.Booster",
            }
        }
    if flavor == "xgboost":
        return {
            "xgboost": {
                "code": None,
                "data": model_file,
                "model_class": "xgboost.core.Booster",
                "model_format": "json",
                "xgb_version": _version_or_none("xgboost"),
            }
        }
    return {
        "sklearn": {
            "code": None,
            "pickled_model": model_file,
            "serialization_format": "skops",
            "sklearn_version": metadata.version("scikit-learn"),
        }
    }


def _version_or_none(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
