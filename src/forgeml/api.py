"""The top-level Python API: ``forgeml.train``, ``forgeml.load_model`` and friends.

These functions take the same inputs as the commands, spelled as keyword arguments, and
their errors name those arguments (``target=``) rather than command-line flags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, get_args

from forgeml.errors import ConfigError, ForgemlError

if TYPE_CHECKING:
    from forgeml.data.versions import DatasetVersion
    from forgeml.model import Model
    from forgeml.project import Project, ProjectLike
    from forgeml.training.trainer import TrainResult

__all__ = ["init", "load_model", "open_project", "python_spelling", "train"]

# command-line flag -> the keyword argument of train() that sets the same thing
_ARGUMENTS = {
    "dataset": "data",
    "target": "target",
    "exclude": "exclude",
    "project": "project",
    "budget": "time_budget",
    "trials": "trials",
    "name": "name",
    "backend": "backend",
    "address": "address",
}
_FLAG = re.compile(r"--([a-z][a-z-]*)(?: ([A-Z][A-Z_]*(?:\[[^\]]*\])?))?")


def python_spelling(text: str) -> str:
    """``text`` with each command-line flag it names written as the keyword argument.

    >>> python_spelling("set train.target in forgeml.yaml, or pass --target COLUMN")
    "set train.target in forgeml.yaml, or pass target='COLUMN'"
    >>> python_spelling("pass --dataset NAME[@VERSION] or --project DIR")
    "pass data='NAME[@VERSION]' or project='DIR'"
    """

    def spell(match: re.Match[str]) -> str:
        argument = _ARGUMENTS.get(match.group(1))
        if argument is None:
            return match.group(0)
        value = match.group(2)
        return f"{argument}='{value}'" if value else f"{argument}="

    return _FLAG.sub(spell, text)


def init(directory: str = ".", *, name: str | None = None) -> Project:
    """Create (or open) a project in ``directory``."""
    from forgeml.project import Project

    return Project.init(directory, name=name)


def open_project(path: str | None = None) -> Project:
    """The project containing ``path`` (default: the current folder)."""
    from forgeml.project import Project

    return Project.find(path)


def train(
    data: Any = None,
    *,
    target: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    time_budget: str | None = None,
    trials: int | None = None,
    exclude: Sequence[str] = (),
    name: str | None = None,
    project: ProjectLike = None,
    register: bool = True,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
    backend: str = "local",
    address: str | None = None,
) -> TrainResult:
    """Train, evaluate and gate candidates on ``data``; register and promote the best if it passes.

    ``data`` is a dataset reference (``"credit"``, ``"credit@2"``), a :class:`DatasetVersion`,
    or a pandas / polars DataFrame or Arrow table (stored first as a version of dataset
    ``name``); None uses ``train.dataset`` from ``forgeml.yaml``. Every other argument
    overrides its ``train:`` key: ``task`` is ``binary``, ``multiclass``, ``regression`` or
    ``auto``; ``time_budget`` is a duration such as ``"5m"``; ``name`` names the registered
    model (default: the dataset's name); ``backend="ray"`` runs the search's trials as Ray
    tasks on the cluster at ``address`` (``"auto"``: the one started on this machine).
    Returns a :class:`TrainResult`.
    """
    from forgeml.config import Task
    from forgeml.project import resolve_project
    from forgeml.training.trainer import train as run_training

    if task is not None and task not in get_args(Task):
        raise ConfigError(
            f"task={task!r} is not a task forgeml knows",
            fix="pass task= one of " + ", ".join(repr(t) for t in get_args(Task)),
        )
    try:
        found = resolve_project(project)
        return run_training(
            dataset_ref=_dataset_ref(data, name, found),
            project=found,
            target=target,
            task=task,
            metric=metric,
            trials=trials,
            time_budget=time_budget,
            exclude=exclude,
            register=register,
            promote=promote,
            model=name,
            progress=progress,
            backend=backend,
            address=address,
        )
    except ForgemlError as error:
        _respell(error)
        raise


def load_model(
    ref: str,
    *,
    trust_code: bool = False,
    trust_reason: str | None = None,
    project: ProjectLike = None,
) -> Model:
    """The model version ``ref`` (``name@champion``, ``name@3``, or ``name`` for the newest),
    loaded after every hash is verified and ready to ``predict``.

    ``trust_code=True`` with ``trust_reason`` admits a Keras Lambda layer or ``.h5`` file
    the version holds (its code runs); the grant is recorded in the audit trail.
    """
    from forgeml.model import Model
    from forgeml.registry.versions import load_model as load_version

    if trust_code:
        from forgeml.registry.code_trust import check_reason
        from forgeml.registry.code_trust import trust_code as grant_trust

        check_reason(trust_reason, ref)
        grant_trust(ref, reason=str(trust_reason), project=project)
    version, bundle = load_version(ref, project=project)
    return Model(version, bundle)


def _dataset_ref(data: Any, name: str | None, project: Project) -> str | None:
    from forgeml.data.ingest import ingest
    from forgeml.data.versions import DatasetVersion

    if data is None or isinstance(data, str):
        return data
    if isinstance(data, DatasetVersion):
        return data.ref
    if name is None:
        raise ConfigError(
            f"data= is a {type(data).__name__}, and a table needs a name to be stored under",
            fix="pass name='credit' (the dataset and model name), or ingest it first and "
            "pass data='credit@1'",
        )
    stored: DatasetVersion = ingest(data, name=name, project=project).version
    return stored.ref


def _respell(error: ForgemlError) -> None:
    error.message = python_spelling(error.message)
    error.args = (error.message, *error.args[1:])
    if error.fix:
        error.fix = python_spelling(error.fix)
