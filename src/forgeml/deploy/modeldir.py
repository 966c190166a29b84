"""Writing a model directory: one model version, self-contained, in its libraries' own
formats; what a container runs and what every deploy target is built from.

The layout, and reading it back (each file's sha256 checked before it is parsed), are in
:mod:`forgeml.registry.directory`, whose names are re-exported here; a model the user
brought (ONNX, PyTorch, Keras) keeps its parts as stored::

    onnx:   model.onnx
    torch:  model.safetensors + architecture.json (``python_class`` in the manifest names
            the ``module:Class`` that is imported and rebuilt from them)
    keras:  model.keras (loaded in safe mode)

The manifest's ``formats`` names each part's format. Loading goes through
:func:`forgeml.registry.directory.load_model_dir`, re-exported here. Nothing is pickled.
Writing is atomic: the directory appears complete, or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from forgeml.deploy.staging import empty_target, staged
from forgeml.errors import ConfigError
from forgeml.flavors import NEURAL
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.bundle import TABULAR_FORMATS, read_manifest
from forgeml.registry.directory import (
    MANIFEST,
    MODEL_DIR_FORMAT,
    ModelDir,
    load_model_dir,
    read_model_dir,
)
from forgeml.registry.versions import ModelVersion, model_version

__all__ = [
    "MANIFEST",
    "MODEL_DIR_FORMAT",
    "MODEL_FILES",
    "PART_EXTENSIONS",
    "ModelDir",
    "load_model_dir",
    "model_roots",
    "read_model_dir",
    "write_model_dir",
]

MODEL_FILES = {"lightgbm": "model.txt", "xgboost": "model.json", "sklearn": "model.skops"}
"""The model file of each flavor: the library's own format."""
CALIBRATOR_FILE = "calibrator.skops"
PART_EXTENSIONS = {"onnx": "onnx", "safetensors": "safetensors", "json": "json", "keras": "keras"}
"""The file extension of each stored format a neural flavor's part has (``model.onnx``)."""


def write_model_dir(
    ref: str, out: str | os.PathLike[str], *, project: ProjectLike = None
) -> ModelDir:
    """Write model version ``ref`` (``name@3``, ``name@champion``) as a model directory.

    ``out`` must not exist, or be an empty folder. The stored parts are copied as they
    are (their sha256 verified on the way), so the directory holds the registered bytes.
    """
    found = resolve_project(project)
    version = model_version(ref, project=found)
    target = empty_target(out)
    manifest = read_manifest(version.artifact_sha256, found.artifacts)
    flavor = str(manifest["flavor"])
    stored = {name: found.artifacts.get_bytes(sha) for name, sha in manifest["parts"].items()}
    formats = dict(manifest.get("formats") or {})
    if flavor in NEURAL:
        files, roles = _neural_files(version, flavor, stored, formats)
    else:
        files = {MODEL_FILES[flavor]: stored["model"]}
        roles = {"model": MODEL_FILES[flavor]}
        formats.setdefault("model", TABULAR_FORMATS[flavor])
    if "calibrator" in stored:
        files[CALIBRATOR_FILE] = stored["calibrator"]
        roles["calibrator"] = CALIBRATOR_FILE
        formats.setdefault("calibrator", "skops")
    files["schema.json"] = _json_bytes(version.signature)
    roles["schema"] = "schema.json"
    files["input_example.json"] = _json_bytes(example_record(version.signature))
    roles["example"] = "input_example.json"
    from forgeml.deploy.requirements import forgeml_requirement, pinned

    python_class = _python_class(stored) if flavor == "torch" else None
    roots = model_roots(flavor, calibrated="calibrator" in stored, python_class=python_class)
    lines = [forgeml_requirement(), *pinned(roots)]
    files["requirements.txt"] = ("\n".join(lines) + "\n").encode()
    roles["requirements"] = "requirements.txt"
    document = {
        "format": MODEL_DIR_FORMAT,
        "name": version.name,
        "version": version.version,
        "flavor": flavor,
        "bundle_sha256": version.artifact_sha256,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "run_id": version.run_id,
        "signature": version.signature,
        "metrics": version.metrics,
        "lineage": version.lineage,
        "features": manifest["features"],
        "extras": manifest["extras"],
        "files": roles,
        "formats": formats,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    if python_class is not None:
        document["python_class"] = python_class
    files[MANIFEST] = _json_bytes(document)
    with staged(target) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
    return read_model_dir(target)


def model_roots(
    flavor: str, *, calibrated: bool = False, python_class: str | None = None
) -> list[str]:
    """The root packages serving a model of ``flavor`` needs (forgeml excluded): the
    predictor's, the flavor's (Keras' backend included) and, for a PyTorch module, the
    installed distribution its class comes from."""
    from forgeml.deploy.requirements import model_packages

    roots = model_packages(flavor, calibrated=calibrated)
    if flavor in NEURAL:
        from forgeml.flavors import packages

        roots += [p for p in packages(flavor) if p not in roots]
    if python_class is not None:
        distribution = class_distribution(python_class)
        if distribution is not None and distribution not in roots:
            roots.append(distribution)
    return roots


def class_distribution(python_class: str) -> str | None:
    """The installed distribution that provides ``module:Class`` (None: forgeml, or none)."""
    from importlib import metadata

    top = python_class.partition(":")[0].split(".", 1)[0]
    if top == "forgeml":
        return None
    found = metadata.packages_distributions().get(top) or []
    return found[0] if found else None


def example_record(signature: dict[str, Any]) -> dict[str, Any]:
    """One typical input: a record (its ranges' middles, first categories), or for a tensor
    model one instance of its tensor, zeros."""
    from forgeml.serve.example import request_example

    tensors = signature.get("tensors")
    if tensors:
        import numpy as np

        tensor = tensors[0]
        instance = np.zeros([int(s) for s in tensor["shape"][1:]], dtype=tensor["dtype"])
        return {str(tensor["name"]): instance.tolist()}

    inputs = [c for c in signature.get("inputs", []) if isinstance(c, dict)]
    return request_example(inputs, {})


def _neural_files(
    version: ModelVersion, flavor: str, stored: dict[str, bytes], formats: dict[str, str]
) -> tuple[dict[str, bytes], dict[str, str]]:
    """The parts of a model the user brought, as files named by part and format."""
    if flavor == "keras":
        from forgeml.flavors.keras_flavor import code_in

        code = code_in(stored["model"])
        if code:
            raise ConfigError(
                f"{version.ref} is a keras model holding code ({', '.join(code)}); a model "
                "directory is served without a project, so there is no audit trail to "
                "record a grant of trust in, and the model would be refused when it loads",
                fix=f"serve it from its project (forgeml serve {version.name} --trust-code), "
                "or rebuild it from Keras layers only (no Lambda) and log it again",
            )
    files: dict[str, bytes] = {}
    roles: dict[str, str] = {}
    for part, data in stored.items():
        if part == "calibrator":
            continue
        extension = PART_EXTENSIONS.get(formats.get(part, ""))
        if extension is None:
            raise ConfigError(
                f"the {part} part of {version.ref} ({flavor}) has format "
                f"{formats.get(part)!r}, which a model directory does not hold",
                fix=f"log the model again with forgeml.log_model() (formats: "
                f"{', '.join(PART_EXTENSIONS)})",
            )
        roles[part] = f"{part}.{extension}"
        files[roles[part]] = data
    return files, roles


def _python_class(stored: dict[str, bytes]) -> str | None:
    """The ``module:Class`` a PyTorch architecture part names (checked again on load)."""
    try:
        found = json.loads(stored["architecture"]).get("class")
    except (KeyError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode()
