"""Writing a model directory: one model version, self-contained, in its libraries' own
formats; what a container runs and what every deploy target is built from.

The layout, and reading it back (each file's sha256 checked before it is parsed), are in
:mod:`forgeml.registry.directory`, whose names are re-exported here. Nothing is pickled.
Writing is atomic: the directory appears complete, or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from forgeml.deploy.staging import empty_target, staged
from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.bundle import read_manifest
from forgeml.registry.directory import (
    MANIFEST,
    MODEL_DIR_FORMAT,
    ModelDir,
    load_model_dir,
    read_model_dir,
)
from forgeml.registry.versions import model_version

__all__ = [
    "MANIFEST",
    "MODEL_DIR_FORMAT",
    "MODEL_FILES",
    "ModelDir",
    "load_model_dir",
    "read_model_dir",
    "write_model_dir",
]

MODEL_FILES = {"lightgbm": "model.txt", "xgboost": "model.json", "sklearn": "model.skops"}
"""The model file of each flavor: the library's own format."""
CALIBRATOR_FILE = "calibrator.skops"


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
    files: dict[str, bytes] = {
        MODEL_FILES[manifest["flavor"]]: found.artifacts.get_bytes(manifest["parts"]["model"])
    }
    roles = {"model": MODEL_FILES[manifest["flavor"]]}
    if "calibrator" in manifest["parts"]:
        files[CALIBRATOR_FILE] = found.artifacts.get_bytes(manifest["parts"]["calibrator"])
        roles["calibrator"] = CALIBRATOR_FILE
    files["schema.json"] = _json_bytes(version.signature)
    roles["schema"] = "schema.json"
    files["input_example.json"] = _json_bytes(example_record(version.signature))
    roles["example"] = "input_example.json"
    from forgeml.deploy.requirements import forgeml_requirement, model_packages, pinned

    roots = model_packages(manifest["flavor"], calibrated="calibrator" in manifest["parts"])
    lines = [forgeml_requirement(), *pinned(roots)]
    files["requirements.txt"] = ("\n".join(lines) + "\n").encode()
    roles["requirements"] = "requirements.txt"
    document = {
        "format": MODEL_DIR_FORMAT,
        "name": version.name,
        "version": version.version,
        "flavor": manifest["flavor"],
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
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    files[MANIFEST] = _json_bytes(document)
    with staged(target) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
    return read_model_dir(target)


def example_record(signature: dict[str, Any]) -> dict[str, Any]:
    """One typical input record from the signature (its ranges' middles, first categories)."""
    from forgeml.serve.example import request_example

    inputs = [c for c in signature.get("inputs", []) if isinstance(c, dict)]
    return request_example(inputs, {})


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, default=str) + "\n").encode()
