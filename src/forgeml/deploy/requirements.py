"""The packages a served model needs, pinned to the versions installed here (a lock).

Serving a model needs forgeml's predictor and server, the model's own library and what
those import, not forgeml's training, monitoring or pipeline dependencies. The lock is
the closure of a few root packages over the installed distributions' requirements, each
pinned to the version installed in this environment (the versions the model was checked
with), so an image or an MLflow environment installs exactly what was tested.

>>> lock = locked(["numpy"])
>>> lock[0].startswith("numpy==")
True
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from forgeml.errors import ConfigError

__all__ = [
    "FLAVOR_PACKAGES",
    "SERVER_PACKAGES",
    "forgeml_requirement",
    "locked",
    "model_packages",
    "pinned",
]

FLAVOR_PACKAGES: dict[str, tuple[str, ...]] = {
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost",),
    "sklearn": ("scikit-learn", "skops"),
}
"""The library each flavor's model file is read with."""

PREDICTOR_PACKAGES = ("numpy", "pyarrow", "pydantic", "pyyaml", "sqlalchemy")
"""What forgeml's preprocessing and predictor import."""

SERVER_PACKAGES = (
    "uvicorn",
    "httptools",
    "uvloop",
    "orjson",
    "typer",
    "rich",
    "alembic",
    "fsspec",
    "swagger-ui-bundle-v2",
    "threadpoolctl",  # one thread per native library in each server process
)
"""What ``forgeml serve`` imports besides the predictor."""


def model_packages(flavor: str, *, calibrated: bool = False) -> list[str]:
    """The root packages that predicting with a model of ``flavor`` needs (forgeml excluded)."""
    roots = [*PREDICTOR_PACKAGES, *FLAVOR_PACKAGES.get(flavor, ())]
    if calibrated and "skops" not in roots:
        roots += ["scikit-learn", "skops"]  # a calibrator is a skops part
    return roots


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
        fix=f"pip install {package}, the library the model is read with",
    )


def forgeml_requirement() -> str:
    """``forgeml==VERSION``: the predictor and server the model runs in."""
    return f"forgeml=={_version('forgeml')}"
