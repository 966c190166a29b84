"""A model directory, read: its manifest checked, every file verified before it is parsed.

One model version, self-contained, in its libraries' own formats (written by
:func:`forgeml.deploy.modeldir.write_model_dir`)::

    DIR/
      forgeml.json         the manifest: name, version, flavor, preprocessing, extras,
                           metrics, lineage, and the sha256 of every file below
      schema.json          the input signature (columns, kinds, ranges, categories)
      model.txt            LightGBM's model text   | model.json  XGBoost's JSON model
                                                   | model.skops a scikit-learn model (skops)
                           or a neural model's parts, named in ``formats``: model.onnx;
                           model.safetensors + architecture.json; model.keras
      calibrator.skops     the fitted calibrator, when the version has one
      input_example.json   one typical input record
      requirements.txt     forgeml and the model's library, pinned

Nothing is pickled: a skops file is read only when every type in it is on forgeml's
allow-list (:mod:`forgeml.registry.trust`), the checks the registry applies.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from forgeml.artifacts import ArtifactStore
from forgeml.errors import ArtifactError, ConfigError, IntegrityError
from forgeml.flavors import NEURAL
from forgeml.registry.bundle import (
    FLAVORS,
    TABULAR_FORMATS,
    ModelBundle,
    load_model_part,
    save_parts,
)
from forgeml.registry.trust import load_checked
from forgeml.registry.versions import ModelVersion

__all__ = [
    "MANIFEST",
    "MODEL_DIR_FORMAT",
    "ModelDir",
    "load_model_dir",
    "read_model_dir",
    "store_model_dir",
]

MANIFEST = "forgeml.json"
MODEL_DIR_FORMAT = 1


@dataclass(frozen=True)
class ModelDir:
    """A model directory's checked manifest (no model file has been parsed yet)."""

    path: Path
    manifest: dict[str, Any]

    @property
    def flavor(self) -> str:
        return str(self.manifest["flavor"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def ref(self) -> str:
        return f"{self.manifest['name']}@{self.manifest['version']}"

    @property
    def model_file(self) -> str:
        return str(self.manifest["files"]["model"])

    @property
    def signature(self) -> dict[str, Any]:
        return dict(self.manifest["signature"])

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.manifest["extras"])

    def file(self, role: str) -> Path:
        return self.path / str(self.manifest["files"][role])

    def version(self) -> ModelVersion:
        """The model version the directory was written from, as the registry described it."""
        m = self.manifest
        return ModelVersion(
            name=str(m["name"]),
            version=int(m["version"]),
            flavor=str(m["flavor"]),
            artifact_sha256=str(m["bundle_sha256"]),
            signature=dict(m["signature"]),
            metrics=dict(m.get("metrics") or {}),
            lineage=dict(m.get("lineage") or {}),
            card_sha256=None,
            run_id=m.get("run_id"),
            created_by=str(m.get("created_by") or ""),
            created_at=datetime.fromisoformat(str(m["created_at"])),
            aliases=[],
        )


def read_model_dir(path: str | os.PathLike[str]) -> ModelDir:
    """The directory's manifest, checked: format, flavor, and that every file is present
    and matches its sha256. Nothing is parsed but JSON."""
    root = Path(path)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(
            f"{root} is not a forgeml model directory: it has no {MANIFEST}",
            fix="write one with 'forgeml export MODEL@V --format dir DIR', or pass the folder "
            "that holds forgeml.json",
        )
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (UnicodeDecodeError, ValueError) as e:
        raise _broken(root, f"{MANIFEST} is not JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise _broken(root, f"{MANIFEST} is not a JSON object")
    if manifest.get("format") != MODEL_DIR_FORMAT:
        raise ArtifactError(
            f"{root} has model directory format {manifest.get('format')!r}, this forgeml "
            f"reads format {MODEL_DIR_FORMAT}",
            fix="upgrade forgeml (pip install -U forgeml), or export the model again",
        )
    problems = []
    if manifest.get("flavor") not in FLAVORS:
        problems.append(f"unknown flavor {manifest.get('flavor')!r}")
    for key in ("name", "version", "created_at", "bundle_sha256"):
        if key not in manifest:
            problems.append(f"no {key!r}")
    for key in ("signature", "features", "extras", "files", "sha256"):
        if not isinstance(manifest.get(key), dict):
            problems.append(f"{key!r} is not a JSON object")
    if problems:
        raise _broken(root, "; ".join(problems))
    files, hashes = manifest["files"], manifest["sha256"]
    if "model" not in files:
        raise _broken(root, "no model file is listed")
    for role, name in files.items():
        if not isinstance(name, str) or name not in hashes:
            raise _broken(root, f"the {role} file is not listed with its sha256")
    for name, expected in hashes.items():
        file = _inside(root, name)
        if not file.is_file():
            raise ArtifactError(
                f"{root} lacks {name}, which its manifest lists",
                fix="copy the whole model directory, or export the model again",
            )
        actual = _sha256(file)
        if actual != expected:
            raise IntegrityError(
                f"{file} does not match its sha256 in {MANIFEST} (expected {expected[:12]}..., "
                f"found {actual[:12]}...): it was changed or damaged after export",
                fix="export the model again; never edit a model directory by hand",
            )
    return ModelDir(root, manifest)


def load_model_dir(path: str | os.PathLike[str]) -> tuple[ModelVersion, ModelBundle]:
    """The version and its bundle from a model directory, each file verified before parsing.

    A neural model's parts (``onnx``, ``torch``, ``keras``: each named in the manifest's
    ``formats``) go to the flavor's own loader, the one a registered version goes through;
    a Keras model holding code is refused, since a directory has no audit trail for trust.
    """
    found = read_model_dir(path)
    return found.version(), _bundle(found, _verified_parts(found))


def store_model_dir(
    path: str | os.PathLike[str], artifacts: ArtifactStore
) -> tuple[ModelVersion, str]:
    """Store a model directory's parts as a bundle, byte for byte; the version it was
    written from and the bundle's id.

    Each file is verified against its sha256 and loaded (as :func:`load_model_dir` does)
    before anything is stored, and the bytes stored are the ones verified: the bundle is
    the one the directory was exported from, so it answers exactly as that version did.
    """
    found = read_model_dir(path)
    parts = _verified_parts(found)
    _bundle(found, parts)  # parses: a part that would not load is refused here
    manifest = found.manifest
    sha = save_parts(found.flavor, parts, manifest["features"], manifest["extras"], artifacts)
    return found.version(), sha


def _verified_parts(found: ModelDir) -> dict[str, tuple[str, bytes]]:
    """Each bundle part of the directory as (format, verified bytes)."""
    formats: Any = found.manifest.get("formats")
    formats = formats if isinstance(formats, dict) else {}
    if found.flavor in NEURAL:
        roles = _model_parts(found)
    else:
        roles = ["model"]
        formats = {"model": TABULAR_FORMATS[found.flavor], **formats}
    if "calibrator" in found.manifest["files"]:
        roles.append("calibrator")
        formats = {"calibrator": "skops", **formats}
    return {role: (str(formats[role]), _verified(found, role)) for role in roles}


def _bundle(found: ModelDir, parts: dict[str, tuple[str, bytes]]) -> ModelBundle:
    """The bundle loaded from verified ``parts``; nothing in it is unpickled."""
    manifest = found.manifest
    if found.flavor in NEURAL:
        from forgeml.flavors import flavor_module

        model_parts = {role: data for role, (_, data) in parts.items() if role != "calibrator"}
        estimator = flavor_module(found.flavor).load(model_parts, found.extras)
    else:
        estimator = load_model_part(found.flavor, parts["model"][1], str(found.file("model")))
    calibrator = None
    if "calibrator" in parts:
        raw = parts["calibrator"][1]
        calibrator = load_checked(raw, f"calibrator {found.file('calibrator')}")
    return ModelBundle(
        found.flavor,  # type: ignore[arg-type]  # checked against FLAVORS above
        estimator,
        dict(manifest["features"]),
        dict(manifest["extras"]),
        calibrator,
    )


def _model_parts(found: ModelDir) -> list[str]:
    """The roles of a neural model's own parts (``formats`` lists them; a calibrator apart)."""
    formats: Any = found.manifest.get("formats")
    roles = [r for r in formats if r != "calibrator"] if isinstance(formats, dict) else []
    if "model" not in roles or any(r not in found.manifest["files"] for r in roles):
        raise ArtifactError(
            f"{found.path} is a {found.flavor} model directory whose manifest does not list "
            "the format and file of each model part",
            fix="export the model again with 'forgeml export MODEL@V --format dir DIR'",
        )
    return roles


def _verified(found: ModelDir, role: str) -> bytes:
    """The bytes of a role's file, the very bytes that were verified (no swap in between)."""
    path = found.file(role)
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != found.manifest["sha256"][path.name]:
        raise IntegrityError(
            f"{path} changed while it was being loaded",
            fix="export the model again into a folder nothing else writes to",
        )
    return data


def _inside(root: Path, name: str) -> Path:
    """``root / name`` for a plain file name; a path that leaves the folder is refused."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise _broken(root, f"file name {name!r} is not a plain file name")
    return root / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _broken(root: Path, why: str) -> ArtifactError:
    return ArtifactError(
        f"{root} is not a valid model directory: {why}",
        fix="export the model again with 'forgeml export MODEL@V --format dir DIR'",
    )
