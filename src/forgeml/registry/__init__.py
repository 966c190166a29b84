"""Model registry: versioned model bundles, aliases, promotion and rollback with an audit trail.

A model version is a verified bundle (estimator, fitted preprocessing, extras) with its
input signature, metrics and lineage. Aliases such as ``champion`` move between versions
by :func:`promote` and :func:`rollback`; every move is recorded. References are
``name@3``, ``name@champion``, or ``name`` / ``name@latest`` for the newest version.
"""

from forgeml.registry.aliases import AliasEvent, history, promote, rollback
from forgeml.registry.bundle import Flavor, ModelBundle, load_bundle, save_bundle
from forgeml.registry.refs import check_alias, parse_model_ref
from forgeml.registry.runs import register_run
from forgeml.registry.versions import (
    ModelSummary,
    ModelVersion,
    list_models,
    load_model,
    model_version,
    register_model,
    versions,
)

__all__ = [
    "AliasEvent",
    "Flavor",
    "ModelBundle",
    "ModelSummary",
    "ModelVersion",
    "check_alias",
    "history",
    "list_models",
    "load_bundle",
    "load_model",
    "model_version",
    "parse_model_ref",
    "promote",
    "register_model",
    "register_run",
    "rollback",
    "save_bundle",
    "versions",
]
