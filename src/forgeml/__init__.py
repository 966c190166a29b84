"""forgeml: the production machine-learning loop in one package.

>>> import forgeml
>>> sorted(forgeml.__all__)[:3]
['DatasetVersion', 'Project', '__version__']
"""

from forgeml.data import DatasetVersion, dataset, ingest, list_datasets, validate_source, versions
from forgeml.project import Project

__version__ = "0.1.0"

__all__ = [
    "DatasetVersion",
    "Project",
    "__version__",
    "dataset",
    "ingest",
    "init",
    "list_datasets",
    "open_project",
    "validate_source",
    "versions",
]


def init(directory: str = ".", *, name: str | None = None) -> Project:
    """Create (or open) a project in ``directory``."""
    return Project.init(directory, name=name)


def open_project(path: str | None = None) -> Project:
    """The project containing ``path`` (default: the current folder)."""
    return Project.find(path)
