"""Model bundles: an estimator, its fitted preprocessing and extras, stored safely.

A bundle is a few content-addressed artifacts plus a JSON manifest that lists them::

    {"format": 1, "flavor": "lightgbm",
     "parts": {"model": "<sha256>", "calibrator": "<sha256>"},
     "features": {...}, "extras": {...}}

The manifest's sha256 is the bundle's id. Each part uses the library's own format:
LightGBM's model text, XGBoost's JSON model, skops for scikit-learn objects (the
``sklearn`` flavor's model and any calibrator), and for the models users bring
(:mod:`forgeml.flavors`) safetensors + a JSON architecture (``torch``), the ``.keras``
archive (``keras``) and the ONNX protobuf (``onnx``). The manifest's ``formats`` names
each part's format. Nothing is ever pickled.

Loading is safe by construction: every part's bytes are checked against their sha256
before anything parses them, and a skops part is only loaded when every node in it is a
kind and an exact type on forgeml's allow-list (:mod:`forgeml.registry.trust`). A Keras
part holding code (a Lambda layer, a legacy ``.h5`` file) loads only when the user trusted
that bundle through the audited flag (:mod:`forgeml.registry.code_trust`). Saving
applies the same check, so a bundle that could not be loaded back is refused when it is
saved.

>>> import tempfile
>>> from sklearn.linear_model import LogisticRegression
>>> from forgeml.artifacts import open_artifact_store
>>> store = open_artifact_store(tempfile.mkdtemp())
>>> model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
>>> bundle_id = save_bundle(ModelBundle("sklearn", model, {"columns": ["x"]}), store)
>>> loaded = load_bundle(bundle_id, store)
>>> loaded.flavor, loaded.features, loaded.estimator.predict([[2.5]]).tolist()
('sklearn', {'columns': ['x']}, [1])
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from forgeml.artifacts import ArtifactStore
from forgeml.errors import ArtifactError, ConfigError, UntrustedModel
from forgeml.flavors import NEURAL
from forgeml.registry.documents import canonical_bytes, json_document
from forgeml.registry.libraries import import_booster_library
from forgeml.registry.trust import load_checked, refused_types

__all__ = [
    "FLAVORS",
    "MANIFEST_FORMAT",
    "TABULAR_FORMATS",
    "Flavor",
    "ModelBundle",
    "load_bundle",
    "load_model_part",
    "read_manifest",
    "save_bundle",
    "save_parts",
]

Flavor = Literal["lightgbm", "xgboost", "sklearn", "torch", "keras", "onnx"]
FLAVORS: tuple[str, ...] = get_args(Flavor)
MANIFEST_FORMAT = 1

TABULAR_FORMATS = {"lightgbm": "lightgbm-text", "xgboost": "xgboost-json", "sklearn": "skops"}
"""The stored format of each table flavor's model part: the library's own."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelBundle:
    """What a model version holds: the estimator, the fitted preprocessing and extras.

    ``estimator`` is a ``lightgbm.Booster`` (or a fitted ``LGBMModel``), an
    ``xgboost.Booster`` (or a fitted ``XGBModel``), or a scikit-learn estimator, matching
    ``flavor``. ``features`` is the fitted preprocessing as JSON, ``extras`` any JSON
    the predictor needs (task, classes, threshold, ...), and ``calibrator`` an optional
    fitted scikit-learn object. Loaded bundles hold boosters for the boosting flavors.
    """

    flavor: Flavor
    estimator: Any
    features: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)
    calibrator: Any | None = None

    def __repr__(self) -> str:
        return f"<ModelBundle {self.flavor} {type(self.estimator).__name__}>"


def save_bundle(bundle: ModelBundle, artifacts: ArtifactStore) -> str:
    """Store the bundle's parts and its manifest; returns the manifest's sha256 (the id).

    Raises ConfigError when the estimator does not match the flavor, is not fitted, holds
    types that could not be loaded back safely, or when features/extras are not JSON.
    """
    if bundle.flavor not in FLAVORS:
        raise ConfigError(
            f"unknown model flavor {bundle.flavor!r}",
            fix=f"use one of: {', '.join(FLAVORS)}",
        )
    features = json_document(bundle.features, "features")
    extras = json_document(bundle.extras, "extras")
    encoded = _model_parts(bundle)
    if bundle.calibrator is not None:
        encoded["calibrator"] = ("skops", _skops_bytes(bundle.calibrator, "calibrator"))
    # every part is encoded and checked before the first one is stored
    return save_parts(bundle.flavor, encoded, features, extras, artifacts)


def save_parts(
    flavor: str,
    encoded: dict[str, tuple[str, bytes]],
    features: dict[str, Any],
    extras: dict[str, Any],
    artifacts: ArtifactStore,
) -> str:
    """Store already encoded parts (name: (format, bytes)) and their manifest; the id.

    The caller has checked that the parts load (:func:`save_bundle` encodes and checks
    them; a model directory's parts are verified and loaded before they are stored), so
    the same bytes give the same bundle id.
    """
    parts = {name: artifacts.put_bytes(data) for name, (_, data) in encoded.items()}
    manifest = {
        "format": MANIFEST_FORMAT,
        "flavor": flavor,
        "parts": parts,
        "formats": {name: fmt for name, (fmt, _) in encoded.items()},
        "features": json_document(features, "features"),
        "extras": json_document(extras, "extras"),
    }
    return artifacts.put_bytes(canonical_bytes(manifest))


def load_bundle(manifest_sha256: str, artifacts: ArtifactStore) -> ModelBundle:
    """The bundle stored under ``manifest_sha256``, each part verified before it is parsed.

    Raises IntegrityError when stored bytes do not match their hash, ArtifactNotFound for a
    missing part, and ArtifactError when a part would create types outside the allow-list.
    """
    manifest = read_manifest(manifest_sha256, artifacts)
    flavor = manifest["flavor"]
    parts = manifest["parts"]
    _refuse_pickles(parts, artifacts)
    if flavor in NEURAL:
        from forgeml.flavors import flavor_module
        from forgeml.registry.code_trust import is_trusted

        model_parts = {k: artifacts.get_bytes(v) for k, v in parts.items() if k != "calibrator"}
        estimator = flavor_module(flavor).load(
            model_parts, manifest["extras"], trust_code=is_trusted(manifest_sha256)
        )
    else:
        estimator = load_model_part(flavor, artifacts.get_bytes(parts["model"]), parts["model"])
    calibrator = None
    if "calibrator" in parts:
        sha = parts["calibrator"]
        calibrator = load_checked(artifacts.get_bytes(sha), f"calibrator part {sha}")
    return ModelBundle(flavor, estimator, manifest["features"], manifest["extras"], calibrator)


def read_manifest(manifest_sha256: str, artifacts: ArtifactStore) -> dict[str, Any]:
    """The verified, checked manifest of a stored bundle (no part is read)."""
    data = artifacts.get_bytes(manifest_sha256)
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or "parts" not in manifest:
        raise _not_a_bundle(manifest_sha256, "it is not a bundle manifest")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(
            f"bundle {manifest_sha256} has manifest format {manifest.get('format')!r}, "
            f"this forgeml reads format {MANIFEST_FORMAT}",
            fix="upgrade forgeml (pip install -U forgeml) to load this bundle",
        )
    parts = manifest["parts"]
    problems = []
    if manifest.get("flavor") not in FLAVORS:
        problems.append(f"unknown flavor {manifest.get('flavor')!r}")
    if not isinstance(parts, dict) or "model" not in parts:
        problems.append("no 'model' part")
    elif not all(isinstance(s, str) and _SHA256.fullmatch(s) for s in parts.values()):
        problems.append("a part that is not a sha256 digest")
    if not isinstance(manifest.get("features"), dict) or not isinstance(
        manifest.get("extras"), dict
    ):
        problems.append("features or extras that are not JSON objects")
    if problems:
        raise _not_a_bundle(manifest_sha256, "its manifest has " + "; ".join(problems))
    return manifest


def _refuse_pickles(parts: dict[str, str], artifacts: ArtifactStore) -> None:
    from forgeml.registry.scan import needs_pickle

    for name, sha in parts.items():
        why = needs_pickle(artifacts.get_bytes(sha))
        if why is not None:
            raise UntrustedModel(
                f"the {name} part {sha} of this bundle is {why}: loading it would run "
                "pickle, which can execute any code, so it is not loaded",
                fix="store the model again with forgeml.log_model(), which writes "
                "safetensors, .keras, ONNX or skops; 'forgeml scan' lists such parts",
            )


def _not_a_bundle(sha256: str, why: str) -> ArtifactError:
    return ArtifactError(
        f"artifact {sha256} is not a model bundle: {why}",
        fix="pass the id that save_bundle() returned, or a model version's artifact_sha256",
    )


def _model_parts(bundle: ModelBundle) -> dict[str, tuple[str, bytes]]:
    """Each part of the bundle's model as (format, bytes)."""
    if bundle.flavor in NEURAL:
        from forgeml.flavors import flavor_module

        module = flavor_module(bundle.flavor)
        if not module.owns(bundle.estimator) and bundle.flavor != "onnx":
            raise _wrong_estimator(bundle.flavor, bundle.estimator, f"a {bundle.flavor} model")
        if bundle.flavor == "torch":
            parts: dict[str, tuple[str, bytes]] = module.dump(
                bundle.estimator, init=bundle.extras.get("init")
            )
            return parts
        if bundle.flavor == "keras":
            from forgeml.registry.code_trust import in_trusted_block

            keras_parts: dict[str, tuple[str, bytes]] = module.dump(
                bundle.estimator, trust_code=in_trusted_block()
            )
            return keras_parts
        found: dict[str, tuple[str, bytes]] = module.dump(bundle.estimator)
        return found
    model = _model_bytes(bundle.flavor, bundle.estimator)
    return {"model": (TABULAR_FORMATS[bundle.flavor], model)}


def _model_bytes(flavor: str, estimator: Any) -> bytes:
    if flavor == "lightgbm":
        import lightgbm

        if isinstance(estimator, lightgbm.LGBMModel):
            estimator = _fitted(lambda: estimator.booster_, estimator)
        if not isinstance(estimator, lightgbm.Booster):
            raise _wrong_estimator(flavor, estimator, "a lightgbm.Booster or a fitted LGBMModel")
        text: str = estimator.model_to_string()
        return text.encode()
    if flavor == "xgboost":
        import xgboost

        if isinstance(estimator, xgboost.XGBModel):
            estimator = _fitted(estimator.get_booster, estimator)
        if not isinstance(estimator, xgboost.Booster):
            raise _wrong_estimator(flavor, estimator, "an xgboost.Booster or a fitted XGBModel")
        return bytes(estimator.save_raw("json"))
    return _skops_bytes(estimator, "estimator")


def _fitted(get: Any, estimator: Any) -> Any:
    try:
        return get()
    except Exception as e:  # each library raises its own not-fitted error
        raise ConfigError(
            f"the {type(estimator).__name__} is not fitted ({e})",
            fix="fit the model before saving it",
        ) from None


def _wrong_estimator(flavor: str, estimator: Any, expected: str) -> ConfigError:
    return ConfigError(
        f"flavor {flavor!r} needs {expected}, got a {type(estimator).__module__}."
        f"{type(estimator).__qualname__}",
        fix="pass the flavor that matches the estimator: " + ", ".join(FLAVORS),
    )


def _skops_bytes(obj: Any, what: str) -> bytes:
    from forgeml.registry.skops_module import skops_io

    data: bytes = skops_io().dumps(obj)
    refused = refused_types(data, what)
    if refused:
        raise ConfigError(
            f"the {what} holds types that forgeml will not load back: {', '.join(refused)}",
            fix="use forgeml's built-in candidates, or a scikit-learn forest, in the 'sklearn' "
            "flavor; save a LightGBM or XGBoost model with its own flavor",
        )
    return data


def load_model_part(flavor: str, data: bytes, sha256: str) -> Any:
    """A model part's estimator from its verified bytes: LightGBM text, XGBoost JSON or UBJ,
    or a skops file whose every type is on the allow-list (never a pickle)."""
    what = f"{flavor} model part {sha256}"
    if flavor == "sklearn":
        return load_checked(data, what)
    try:
        if flavor == "lightgbm":
            return import_booster_library("lightgbm").Booster(model_str=data.decode())
        booster = import_booster_library("xgboost").Booster()
        booster.load_model(bytearray(data))
        return booster
    except Exception as e:  # the library's own parse error
        raise ArtifactError(
            f"{what} cannot be read ({type(e).__name__}: {e})",
            fix="store the model again with save_bundle()",
        ) from None
