"""``forgeml import mlflow DIR --name MODEL``: register an MLflow model as a model version.

``MLmodel`` is parsed as YAML (never imported or executed). Three kinds of folder are read:

* a forgeml export (``metadata.forgeml_model_dir`` names the ``forgeml/`` model directory it
  carries; older exports of table models name it as their ``forgeml_pyfunc`` loader's
  data): the directory's files are checked against their sha256, loaded, and registered
  byte for byte with its signature, metrics and lineage, preprocessing, classes, threshold
  and calibrator included: an export and an import give the same model, for a table model
  and for an ONNX or PyTorch one alike;
* an MLflow model with a native flavor: ``sklearn`` saved with ``serialization_format:
  skops`` (read through forgeml's allow-list), ``lightgbm`` (its model text) or
  ``xgboost`` (JSON or UBJ). Its signature's columns become the version's inputs; they
  must be numbers or booleans, since the model takes them as they are;
* an MLflow model with the ``onnx`` flavor: registered as forgeml's ONNX flavor, scored
  by onnxruntime (:mod:`forgeml.deploy.onnx_import`).

Pickle and cloudpickle payloads (scikit-learn's default, LightGBM's scikit-learn API) can
run code when they are read: they are refused unless ``trust_pickle`` is given with a
``trust_reason``, and then the model is converted to a safe format on the way in and the
trust (who, when, why, which file) is recorded in the version's lineage, which no one can
change afterwards, and as an ``import`` row of the audit trail that ``forgeml history``
lists. The version is registered through
:func:`~forgeml.registry.register_model`, so it must predict on example rows like any other;
promoting it goes through the project's gate as usual.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from forgeml.errors import ConfigError, UntrustedModel
from forgeml.project import ProjectLike, resolve_project, who
from forgeml.registry.bundle import ModelBundle, load_model_part
from forgeml.registry.versions import ModelVersion, register_model

__all__ = ["KINDS", "import_mlflow", "read_mlmodel", "schema_from_signature"]

KINDS = {
    "long": "integer",
    "integer": "integer",
    "double": "float",
    "float": "float",
    "boolean": "boolean",
    "string": "category",
    "datetime": "timestamp",
}
"""MLflow column types as forgeml column kinds."""
_NUMERIC = ("integer", "float", "boolean")
_PICKLED = ("pickle", "cloudpickle")


def read_mlmodel(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The folder's ``MLmodel`` document (YAML, loaded safely), checked to have flavors."""
    path = Path(folder) / "MLmodel"
    if not path.is_file():
        raise ConfigError(
            f"{folder} is not an MLflow model: it has no MLmodel file",
            fix="pass the folder that mlflow.<flavor>.save_model() wrote (it holds MLmodel)",
        )
    try:
        document = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not YAML ({e})", fix="pass an MLflow model folder") from None
    if not isinstance(document, dict) or not isinstance(document.get("flavors"), dict):
        raise ConfigError(f"{path} lists no flavors", fix="pass an MLflow model folder")
    return document


def import_mlflow(
    folder: str | os.PathLike[str],
    name: str,
    *,
    task: str | None = None,
    trust_pickle: bool = False,
    trust_reason: str | None = None,
    project: ProjectLike = None,
) -> ModelVersion:
    """Register the MLflow model in ``folder`` as the next version of ``name``.

    ``trust_pickle`` (with ``trust_reason``, required) admits a pickle or cloudpickle file.
    """
    root = Path(folder)
    reason = _trust_reason(root, trust_reason) if trust_pickle else None
    document = read_mlmodel(root)
    flavors = document["flavors"]
    found = resolve_project(project)
    carried = _carried_dir(document)
    if carried is not None:
        return _import_forgeml(root / _relative(root, carried), name, found)
    lineage: dict[str, Any] = {"source": "mlflow", "folder": str(root.resolve())}
    if "sklearn" in flavors:
        estimator, flavor = _sklearn(root, flavors["sklearn"], trust_pickle, lineage), "sklearn"
    elif "lightgbm" in flavors:
        estimator, flavor = _lightgbm(root, flavors["lightgbm"], trust_pickle, lineage), "lightgbm"
    elif "xgboost" in flavors:
        estimator, flavor = _xgboost(root, flavors["xgboost"]), "xgboost"
    elif "onnx" in flavors:
        from forgeml.deploy.onnx_import import import_onnx

        conf = flavors["onnx"] if isinstance(flavors["onnx"], dict) else {}
        path = root / _relative(root, str(conf.get("data") or "model.onnx"))
        signature = document.get("signature")
        return import_onnx(path, signature, name, task=task, lineage=lineage, project=found)
    else:
        raise ConfigError(
            f"{root} has none of the flavors forgeml imports (found: {', '.join(flavors)})",
            fix="save the model with mlflow.sklearn (serialization_format='skops'), "
            "mlflow.lightgbm, mlflow.xgboost or mlflow.onnx",
        )
    columns = schema_from_signature(document.get("signature"), root)
    chosen = task or _task(flavor, estimator)
    bundle = _bundle(flavor, estimator, columns, chosen, root)
    signature = {"inputs": columns, "task": chosen, "classes": bundle.extras.get("classes")}
    trusted = lineage.get("trusted_pickle")
    if trusted:
        trusted["reason"] = reason
    version = register_model(
        name, bundle, signature=signature, metrics={}, lineage=lineage, project=found
    )
    if trusted:
        from forgeml.registry.code_trust import record_trust

        stored = "skops" if flavor == "sklearn" else f"{flavor}'s own format"
        admitted = [f"{trusted['format']} file {trusted['file']} (stored as {stored})"]
        record_trust(
            version.ref, reason=str(reason), action="import", admitted=admitted, project=found
        )
    return version


def _trust_reason(root: Path, reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise ConfigError(
            f"--trust-pickle for {root} needs a reason, which the audit trail records",
            fix="say why you trust the file: --trust-reason 'saved by our training job, run "
            "1234' (trust_reason= in Python); or save the model with skops instead",
        )
    return reason.strip()


def schema_from_signature(signature: Any, root: Path) -> list[dict[str, Any]]:
    """forgeml input columns from MLflow's column-based signature."""
    if not isinstance(signature, dict) or not signature.get("inputs"):
        raise ConfigError(
            f"{root}/MLmodel has no input signature, so forgeml cannot check requests",
            fix="save the model with a signature (mlflow.models.infer_signature)",
        )
    try:
        inputs = json.loads(signature["inputs"])
    except (TypeError, ValueError):
        inputs = None
    if not isinstance(inputs, list) or not all(isinstance(c, dict) for c in inputs):
        raise ConfigError(f"{root}/MLmodel has an unreadable signature", fix="save it again")
    columns = []
    for i, column in enumerate(inputs):
        kind = KINDS.get(str(column.get("type")))
        if column.get("type") == "tensor" or kind is None:
            raise ConfigError(
                f"input {i} of {root}/MLmodel is a {column.get('type')!r}; forgeml imports "
                "column signatures of numbers, booleans, strings and datetimes",
                fix="save the model with a DataFrame signature (named columns)",
            )
        name = column.get("name") or f"x{i}"
        optional = column.get("required") is False  # MLflow before 2.9 wrote no "required"
        columns.append({"name": str(name), "kind": kind, "nullable": optional})
    return columns


def _carried_dir(document: dict[str, Any]) -> str | None:
    """The forgeml model directory a forgeml export carries (``metadata.forgeml_model_dir``;
    before it was written, the ``data`` of its ``forgeml_pyfunc`` loader), or None."""
    meta = document.get("metadata")
    if isinstance(meta, dict) and meta.get("forgeml_model_dir") is not None:
        return str(meta["forgeml_model_dir"])
    pyfunc = document["flavors"].get("python_function")
    if isinstance(pyfunc, dict) and pyfunc.get("loader_module") == "forgeml_pyfunc":
        return str(pyfunc.get("data"))
    return None


def _import_forgeml(model_dir: Path, name: str, project: Any) -> ModelVersion:
    """The carried model directory registered byte for byte: the same bundle (model parts,
    preprocessing, extras, calibrator), signature, metrics and lineage as the version it
    was exported from."""
    from forgeml.registry.directory import store_model_dir

    if not (model_dir / "forgeml.json").is_file():
        raise ConfigError(
            f"{model_dir} is not a forgeml model directory, though {model_dir.parent}/MLmodel "
            "names it as the one this export carries",
            fix="copy the whole exported folder, or export the model again with "
            "'forgeml export MODEL@V --format mlflow DIR'",
        )
    # every file checked against its sha256 and parsed before a byte is stored
    version, bundle_sha = store_model_dir(model_dir, project.artifacts)
    lineage = {**version.lineage, "source": "mlflow", "imported_from": version.ref}
    return register_model(
        name,
        bundle_sha,
        signature=version.signature,
        metrics=version.metrics,
        lineage=lineage,
        project=project,
    )


def _relative(root: Path, name: str) -> Path:
    path = Path(name)
    if (
        path.is_absolute()
        or ".." in path.parts
        or not (root / path).resolve().is_relative_to(root.resolve())  # a link out
    ):
        raise ConfigError(
            f"{root}/MLmodel names a file outside the model folder: {name!r}",
            fix="pass an MLflow model whose files are inside its folder",
        )
    return path


def _sklearn(root: Path, conf: dict[str, Any], trust: bool, lineage: dict[str, Any]) -> Any:
    path = root / _relative(root, str(conf.get("pickled_model")))
    form = str(conf.get("serialization_format") or "cloudpickle")
    if form == "skops":
        return load_model_part("sklearn", path.read_bytes(), str(path))
    if form in _PICKLED:
        return _unpickle(path, form, trust, lineage)
    raise ConfigError(f"{path}: unknown serialization format {form!r}", fix="save it with skops")


def _lightgbm(root: Path, conf: dict[str, Any], trust: bool, lineage: dict[str, Any]) -> Any:
    path = root / _relative(root, str(conf.get("data")))
    model_class = str(conf.get("model_class") or "lightgbm.basic.Booster")
    if model_class == "lightgbm.basic.Booster":
        return load_model_part("lightgbm", path.read_bytes(), str(path))
    form = str(conf.get("serialization_format") or "cloudpickle")
    model = _unpickle(path, form, trust, lineage)
    return getattr(model, "booster_", model)


def _xgboost(root: Path, conf: dict[str, Any]) -> Any:
    path = root / _relative(root, str(conf.get("data")))
    return load_model_part("xgboost", path.read_bytes(), str(path))


def _unpickle(path: Path, form: str, trust: bool, lineage: dict[str, Any]) -> Any:
    if not trust:
        raise UntrustedModel(
            f"{path} is a {form} file: reading it can run any code it holds, so it was not read",
            fix="save the model again with serialization_format='skops' (or the library's own "
            "format), or pass --trust-pickle --trust-reason TEXT if you trust its source "
            "(recorded in the audit trail)",
        )
    lineage["trusted_pickle"] = {
        "file": path.name,
        "format": form,
        "by": who(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    import pickle

    with path.open("rb") as f:
        return pickle.load(f)  # the user vouched for it, and it is recorded


def _task(flavor: str, estimator: Any) -> str:
    if flavor == "lightgbm":
        objective = str(estimator.params.get("objective", "regression"))
        if objective.startswith(("binary", "cross_entropy")):
            return "binary"
        if objective.startswith(("multiclass", "softmax", "multiclassova")):
            return "multiclass"
        return "regression"
    classes = getattr(estimator, "classes_", None)
    if classes is not None and hasattr(estimator, "predict_proba"):
        return "binary" if len(classes) == 2 else "multiclass"
    if flavor == "sklearn":
        return "regression"
    raise ConfigError(
        "the task of an XGBoost model cannot be read from its file",
        fix="pass --task binary, multiclass or regression",
    )


def _bundle(
    flavor: str, estimator: Any, columns: list[dict[str, Any]], task: str, root: Path
) -> ModelBundle:
    """The estimator with pass-through preprocessing over its numeric input columns."""
    from forgeml.features import FeaturePipeline

    wrong = [c["name"] for c in columns if c["kind"] not in _NUMERIC]
    if wrong:
        raise ConfigError(
            f"{root}: inputs {', '.join(wrong)} are not numbers or booleans; a model imported "
            "from MLflow takes its columns as they are, without forgeml's encoding",
            fix="encode those columns in the model (a scikit-learn pipeline of allowed types), "
            "or train the model with forgeml",
        )
    columns = _in_fitted_order(estimator, columns, root)
    data = {c["name"]: [False, True] if c["kind"] == "boolean" else [0.0, 1.0] for c in columns}
    schema = {"columns": [{"name": c["name"], "kind": c["kind"]} for c in columns]}
    pipeline = FeaturePipeline.fit(data, schema, target=None, strategy="tree")
    extras: dict[str, Any] = {"task": task}
    if task != "regression":
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            count = int(estimator.params.get("num_class", 2)) if flavor == "lightgbm" else 2
            classes = list(range(count if task == "multiclass" else 2))
        extras["classes"] = np.asarray(classes).tolist()
    if task == "binary":
        extras["threshold"] = 0.5
    return ModelBundle(flavor, estimator, pipeline.to_dict(), extras)  # type: ignore[arg-type]


def _in_fitted_order(
    estimator: Any, columns: list[dict[str, Any]], root: Path
) -> list[dict[str, Any]]:
    """The columns in the order a scikit-learn model was fitted on, which then takes arrays.

    forgeml hands the model an array whose columns follow its input order; a model fitted
    on a named frame keeps those names and would warn on every request, so the names are
    checked here, used for the order, and dropped from the model.
    """
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        return columns
    names = [str(n) for n in fitted]
    by_name = {c["name"]: c for c in columns}
    if sorted(names) != sorted(by_name):
        raise ConfigError(
            f"{root}: the model was fitted on columns {', '.join(names)} but its signature "
            f"lists {', '.join(by_name)}",
            fix="save the model with the signature of the frame it was fitted on",
        )
    del estimator.feature_names_in_
    return [by_name[n] for n in names]
