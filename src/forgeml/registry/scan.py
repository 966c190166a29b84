"""``forgeml scan``: which stored model artifacts would need pickle to load.

Every part of every registered version is listed with the format its manifest records
and a verdict from its bytes: a pickle stream (``\\x80`` and a protocol number, as
``pickle``, ``joblib`` and ``torch.save`` write) or a zip archive holding ``.pkl`` members
(``torch.save``'s format) needs pickle; forgeml's formats never do. :func:`load_bundle`
refuses such a part before any library parses it. A Keras part holding code (a Lambda
layer, a legacy ``.h5`` file) is listed with what it holds: it loads only when the user
trusts that version (:mod:`forgeml.registry.code_trust`).

>>> needs_pickle(b"\\x80\\x04\\x95\\x05\\x00")
'a pickle stream (protocol 4)'
>>> needs_pickle(b'{"class": "forgeml.flavors.nets:MLP"}') is None
True
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from forgeml.project import ProjectLike, resolve_project
from forgeml.registry.bundle import read_manifest
from forgeml.registry.versions import list_models, versions

__all__ = ["PICKLE_FREE", "ScannedPart", "needs_pickle", "scan"]

PICKLE_FREE = frozenset(
    {"skops", "lightgbm-text", "xgboost-json", "safetensors", "json", "keras", "keras-h5", "onnx"}
)
"""The formats forgeml writes; none of them is read with pickle."""

NEVER_LOADED = "never loaded: "
"""How :attr:`ScannedPart.code` begins for a part that even the trust flag does not admit."""

_LEGACY = {"lightgbm": "lightgbm-text", "xgboost": "xgboost-json", "sklearn": "skops"}


@dataclass(frozen=True)
class ScannedPart:
    """One stored part of a model version and whether loading it would need pickle."""

    ref: str
    part: str
    sha256: str
    format: str
    pickle: str | None  # why it needs pickle, or None
    code: str | None = None  # what runs code on load (admitted only by the trust flag)

    @property
    def safe(self) -> bool:
        """Loadable without pickle, and naming no code that forgeml never admits."""
        return self.pickle is None and not (self.code or "").startswith(NEVER_LOADED)


def needs_pickle(data: bytes) -> str | None:
    """Why ``data`` could only be loaded with pickle, or None when it could not be."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return f"a pickle stream (protocol {data[1]})"
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return None
        # .pt: torch.save's own archive, nested (as torch.export's .pt2 holds one)
        pickled = [n for n in names if n.endswith((".pkl", ".pickle", ".joblib", ".pt", ".pth"))]
        if pickled:
            return f"a zip archive holding pickled members ({', '.join(pickled[:3])})"
    return None


def scan(*, project: ProjectLike = None) -> list[ScannedPart]:
    """Every part of every registered model version, with its format and pickle verdict."""
    found = resolve_project(project)
    scanned: list[ScannedPart] = []
    for model in list_models(project=found):
        for version in versions(model.name, project=found):
            manifest = read_manifest(version.artifact_sha256, found.artifacts)
            formats = manifest.get("formats") or {}
            for part, sha in manifest["parts"].items():
                fmt = formats.get(part) or (
                    "skops" if part == "calibrator" else _LEGACY.get(manifest["flavor"], "?")
                )
                data = found.artifacts.get_bytes(sha)
                verdict = needs_pickle(data)
                if verdict is None and fmt not in PICKLE_FREE:
                    verdict = f"format {fmt!r} is not one forgeml reads without pickle"
                scanned.append(ScannedPart(version.ref, part, sha, fmt, verdict, _code(fmt, data)))
    return scanned


def _code(fmt: str, data: bytes) -> str | None:
    """What in a Keras part runs Python code, or why it is never loaded; None for others."""
    if fmt not in ("keras", "keras-h5"):
        return None
    from forgeml.errors import UntrustedModel
    from forgeml.flavors.keras_flavor import code_in

    try:
        return ", ".join(code_in(data)) or None
    except UntrustedModel as error:
        return NEVER_LOADED + error.message
