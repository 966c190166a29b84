"""forgeml: the production machine-learning loop in one package.

>>> import forgeml
>>> sorted(forgeml.__all__)[:3]
['DatasetVersion', 'ModelBundle', 'ModelVersion']
"""

from forgeml.data import DatasetVersion, dataset, ingest, list_datasets, validate_source, versions
from forgeml.project import Project
from forgeml.registry import (
    ModelBundle,
    ModelVersion,
    list_models,
    load_model,
    model_version,
    promote,
    register_model,
    rollback,
)
from forgeml.training.tracking import Run, RunInfo, get_run, list_runs, metric_history, start_run

__version__ = "0.1.0"

__all__ = [
    "DatasetVersion",
    "ModelBundle",
    "ModelVersion",
    "Project",
    "Run",
    "RunInfo",
    "__version__",
    "dataset",
    "get_run",
    "ingest",
    "init",
    "list_datasets",
    "list_models",
    "list_runs",
    "load_model",
    "metric_history",
    "model_version",
    "open_project",
    "promote",
    "register_model",
    "rollback",
    "start_run",
    "validate_source",
    "versions",
]


def init(directory: str = ".", *, name: str | None = None) -> Project:
    """Create (or open) a project in ``directory``."""
    return Project.init(directory, name=name)


def open_project(path: str | None = None) -> Project:
    """The project containing ``path`` (default: the current folder)."""
    return Project.find(path)
