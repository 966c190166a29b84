"""Loading a model directory of any flavor: what ``forgeml serve --model-dir`` serves.

A scikit-learn, LightGBM or XGBoost directory is read by
:func:`forgeml.registry.directory.load_model_dir`. A directory of a model the user brought
(``onnx``, ``torch``, ``keras``) holds its parts as the registry stores them, each named in
the manifest's ``formats`` (``model.onnx``; ``model.safetensors`` + ``architecture.json``;
``model.keras``): they are read, checked against their sha256 once more, and handed to the
flavor's own loader (:mod:`forgeml.flavors`), the one a registered version goes through.
Nothing is unpickled; a Keras model holding code is refused, since a model directory has no
audit trail to record a grant of trust in.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from forgeml.errors import ArtifactError, IntegrityError
from forgeml.flavors import NEURAL
from forgeml.registry.bundle import ModelBundle
from forgeml.registry.directory import ModelDir, read_model_dir
from forgeml.registry.directory import load_model_dir as load_tabular_dir
from forgeml.registry.versions import ModelVersion

__all__ = ["load_model_dir", "model_parts"]


def load_model_dir(path: str | os.PathLike[str]) -> tuple[ModelVersion, ModelBundle]:
    """The version and its bundle from a model directory, each file verified before parsing."""
    found = read_model_dir(path)
    if found.flavor not in NEURAL:
        return load_tabular_dir(path)
    from forgeml.flavors import flavor_module

    parts = {role: verified_bytes(found, role) for role in model_parts(found)}
    estimator = flavor_module(found.flavor).load(parts, found.extras)
    calibrator = None
    if "calibrator" in found.manifest["files"]:
        from forgeml.registry.trust import load_checked

        calibrator = load_checked(verified_bytes(found, "calibrator"), f"{found.path} calibrator")
    bundle = ModelBundle(
        found.flavor,  # type: ignore[arg-type]  # checked by read_model_dir
        estimator,
        dict(found.manifest["features"]),
        found.extras,
        calibrator,
    )
    return found.version(), bundle


def model_parts(found: ModelDir) -> list[str]:
    """The roles of the model's own parts (``formats`` lists them; a calibrator is apart)."""
    formats: Any = found.manifest.get("formats")
    roles = [r for r in formats if r != "calibrator"] if isinstance(formats, dict) else []
    if "model" not in roles or any(r not in found.manifest["files"] for r in roles):
        raise ArtifactError(
            f"{found.path} is a {found.flavor} model directory whose manifest does not list "
            "the format and file of each model part",
            fix="export the model again with 'forgeml export MODEL@V --format dir DIR'",
        )
    return roles


def verified_bytes(found: ModelDir, role: str) -> bytes:
    """The bytes of a role's file, checked against the manifest just before they are parsed."""
    path = found.file(role)
    data = path.read_bytes()
    expected = found.manifest["sha256"][path.name]
    if hashlib.sha256(data).hexdigest() != expected:
        raise IntegrityError(
            f"{path} does not match its sha256 in the model directory's manifest: it "
            "changed after export",
            fix="export the model again; never edit a model directory by hand",
        )
    return data
