"""forgeml: the production machine-learning loop in one package.

Importing ``forgeml`` is cheap: each public name is imported from its module the first time
it is used, so a script (or ``forgeml --help``) pays only for what it touches.

>>> import forgeml
>>> sorted(forgeml.__all__)[:3]
['DatasetVersion', 'Model', 'ModelBundle']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time names resolve on first use
    from forgeml.api import init, load_model, open_project, train
    from forgeml.data import DatasetVersion, dataset, ingest, list_datasets, validate_source
    from forgeml.data import versions as versions
    from forgeml.model import Model
    from forgeml.project import Project
    from forgeml.registry import (
        ModelBundle,
        ModelVersion,
        list_models,
        model_version,
        promote,
        register_model,
        rollback,
    )
    from forgeml.registry.byo import log_model
    from forgeml.registry.code_trust import trust_code
    from forgeml.training.tracking import (
        Run,
        RunInfo,
        get_run,
        list_runs,
        metric_history,
        start_run,
    )
    from forgeml.training.trainer import TrainResult

__version__ = "0.1.0"

# public name -> the module that defines it
_HOMES = {
    "DatasetVersion": "forgeml.data",
    "Model": "forgeml.model",
    "ModelBundle": "forgeml.registry",
    "ModelVersion": "forgeml.registry",
    "Project": "forgeml.project",
    "Run": "forgeml.training.tracking",
    "RunInfo": "forgeml.training.tracking",
    "TrainResult": "forgeml.training.trainer",
    "dataset": "forgeml.data",
    "get_run": "forgeml.training.tracking",
    "ingest": "forgeml.data",
    "init": "forgeml.api",
    "list_datasets": "forgeml.data",
    "list_models": "forgeml.registry",
    "list_runs": "forgeml.training.tracking",
    "load_model": "forgeml.api",
    "log_model": "forgeml.registry.byo",
    "metric_history": "forgeml.training.tracking",
    "model_version": "forgeml.registry",
    "open_project": "forgeml.api",
    "promote": "forgeml.registry",
    "register_model": "forgeml.registry",
    "rollback": "forgeml.registry",
    "start_run": "forgeml.training.tracking",
    "train": "forgeml.api",
    "trust_code": "forgeml.registry.code_trust",
    "validate_source": "forgeml.data",
    "versions": "forgeml.data",
}

__all__ = [
    "DatasetVersion",
    "Model",
    "ModelBundle",
    "ModelVersion",
    "Project",
    "Run",
    "RunInfo",
    "TrainResult",
    "__version__",
    "dataset",
    "get_run",
    "ingest",
    "init",
    "list_datasets",
    "list_models",
    "list_runs",
    "load_model",
    "log_model",
    "metric_history",
    "model_version",
    "open_project",
    "promote",
    "register_model",
    "rollback",
    "start_run",
    "train",
    "trust_code",
    "validate_source",
    "versions",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'forgeml' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
