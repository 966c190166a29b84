"""The packages a served model needs, pinned to the versions installed here (a lock).

Serving a model needs forgeml's predictor and server, the model's own library and what
those import, not forgeml's training, monitoring or pipeline dependencies. The lock is
the closure of a few root packages over the installed distributions' requirements, each
pinned to the version installed in this environment (the versions the model was checked
with), so an image or an MLflow environment installs exactly what was tested.

The roots are named by the module the code imports (``sklearn``, ``yaml``, ``xgboost``)
and written as the distribution installed here that provides it (``scikit-learn``,
``PyYAML``, ``xgboost`` or ``xgboost-cpu``): a requirement names what pip can install.

>>> installed("yaml")
'PyYAML'
>>> lock = locked(["numpy"])
>>> lock[0].startswith("numpy==")
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib import metadata

from forgeml.errors import ConfigError

__all__ = [
    "FLAVOR_MODULES",
    "SERVER_MODULES",
    "forgeml_requirement",
    "installed",
    "locked",
    "model_packages",
    "pinned",
    "server_packages",
]

FLAVOR_MODULES: dict[str, tuple[str, ...]] = {
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost",),
    "sklearn": ("sklearn", "skops"),
}
"""The modules each flavor's model file is read with."""

PREDICTOR_MODULES = ("numpy", "pyarrow", "pydantic", "yaml", "sqlalchemy")
"""What forgeml's preprocessing and predictor import."""

SERVER_MODULES = (
    "uvicorn",
    "httptools",
    "uvloop",
    "orjson",
    "typer",
    "rich",
    "alembic",
    "fsspec",
    "swagger_ui_bundle",
    "threadpoolctl",  # one thread per native library in each server process
)
"""What ``forgeml serve`` imports besides the predictor."""


def installed(module_name: str) -> str:
    """The name of the installed distribution that provides the top-level ``module_name``.

    XGBoost, for one, is imported as ``xgboost`` but installed as ``xgboost`` or
    ``xgboost-cpu``; a requirement must name the one pip installed here.
    """
    top = module_name.partition(".")[0]
    found = sorted(set(_providers().get(top, [])), key=str.lower)
    if not found:
        raise _missing(top)
    if len(found) > 1:  # two distributions write the module (a leftover install)
        exact = [d for d in found if _key(d) == _key(top)]
        if len(exact) != 1:
            raise ConfigError(
                f"module {top!r} is provided by {len(found)} installed distributions "
                f"({', '.join(found)}), so which one to pin is unclear",
                fix=f"uninstall all but one of them (pip uninstall {' '.join(found[1:])})",
            )
        found = exact
    return str(metadata.distribution(found[0]).metadata["Name"])


@cache
def _providers() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that provide it (read once: a full scan)."""
    return metadata.packages_distributions()


def model_packages(flavor: str, *, calibrated: bool = False) -> list[str]:
    """The installed distributions that predicting with a ``flavor`` model needs (no forgeml)."""
    modules = [*PREDICTOR_MODULES, *FLAVOR_MODULES.get(flavor, ())]
    if calibrated and "skops" not in modules:
        modules += ["sklearn", "skops"]  # a calibrator is a skops part
    return [installed(m) for m in modules]


def server_packages() -> list[str]:
    """The installed distributions ``forgeml serve`` needs besides the predictor's."""
    return [installed(m) for m in SERVER_MODULES]


def pinned(packages: Iterable[str]) -> list[str]:
    """``name==version`` for each package as installed here, no dependencies added."""
    return [f"{_name(p)}=={_version(p)}" for p in packages]


def locked(roots: Iterable[str]) -> list[str]:
    """``name==version`` for ``roots`` and everything they require here, sorted by name."""
    from packaging.requirements import InvalidRequirement, Requirement

    seen: dict[str, str] = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        key = _key(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in roots:
                raise _missing(name) from None
            continue  # an optional platform package (a marker we cannot see past)
        seen[key] = f"{dist.metadata['Name']}=={dist.version}"
        for text in dist.requires or []:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            stack.append(requirement.name)
    return sorted(seen.values(), key=str.lower)


def _name(package: str) -> str:
    try:
        return str(metadata.distribution(package).metadata["Name"])
    except metadata.PackageNotFoundError:
        raise _missing(package) from None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise _missing(package) from None


def _key(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _missing(package: str) -> ConfigError:
    return ConfigError(
        f"package {package!r} is not installed, so its version cannot be pinned",
        fix=f"install {package} (the library the model is read with) in this environment",
    )


def forgeml_requirement() -> str:
    """``forgeml==VERSION``: the predictor and server the model runs in."""
    return f"forgeml=={_version('forgeml')}"
