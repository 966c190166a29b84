"""Every error forgeml raises on purpose.

Each message says what happened, which input it concerns, and how to fix it::

    ForgemlError
    ├── ConfigError              forgeml.yaml or a setting is invalid
    ├── ProjectNotFound          no forgeml.yaml in this folder or above
    ├── MissingDependency        an optional extra is not installed
    ├── StoreError               the metadata store cannot be used
    │   └── StoreVersionError    the store's schema is older/newer than this forgeml
    ├── ArtifactError            the artifact store refused an operation
    │   ├── UnsafeKey            a name or URI tries to leave the store
    │   ├── ArtifactNotFound     no artifact with that hash or name
    │   ├── IntegrityError       stored bytes do not match their sha256
    │   └── UntrustedModel       a stored model would create a type forgeml does not load
    ├── ModelCannotPredict       a model failed to predict on example rows
    ├── NotFound                 a named object (dataset, version, ...) does not exist
    └── DataError                input data cannot be read or fails its rules
        ├── SourceError          the source is unreadable, empty, malformed or unreachable
        ├── InputRejected        a prediction request breaks the model's signature
        └── ValidationFailed     data breaks declared validation rules (has a report)

>>> try:
...     raise SourceError("data.csv is empty", fix="export the data again with a header row")
... except ForgemlError as e:
...     print(e)
data.csv is empty
  fix: export the data again with a header row
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "ConfigError",
    "DataError",
    "ForgemlError",
    "InputRejected",
    "IntegrityError",
    "MissingDependency",
    "ModelCannotPredict",
    "NotFound",
    "ProjectNotFound",
    "SourceError",
    "StoreError",
    "StoreVersionError",
    "UnsafeKey",
    "UntrustedModel",
    "ValidationFailed",
]


class ForgemlError(Exception):
    """Base class: ``message`` says what and where, ``fix`` says how to repair it."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.fix}" if self.fix else self.message


class ConfigError(ForgemlError):
    """forgeml.yaml or an environment setting is invalid."""


class ProjectNotFound(ForgemlError):
    """No forgeml project in the given folder or any parent."""


class MissingDependency(ForgemlError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed",
            fix=f"pip install 'forgeml[{extra}]'",
        )
        self.package = package
        self.extra = extra


class StoreError(ForgemlError):
    """The metadata store cannot be opened or written."""


class StoreVersionError(StoreError):
    """The store's schema revision does not match this version of forgeml."""


class ArtifactError(ForgemlError):
    """The artifact store refused an operation."""


class UnsafeKey(ArtifactError):
    """A name or URI would resolve outside the artifact store."""


class ArtifactNotFound(ArtifactError):
    """No artifact is stored under that hash or name."""


class IntegrityError(ArtifactError):
    """Stored bytes do not match the sha256 they were stored under."""


class UntrustedModel(ArtifactError):
    """A stored model part would create a type, or run a call, outside the allow-list."""


class ModelCannotPredict(ForgemlError):
    """A model failed to predict on example rows, so it is neither registered nor served."""


class NotFound(ForgemlError):
    """A named object (dataset, dataset version, ...) does not exist."""


class DataError(ForgemlError):
    """Input data cannot be used."""


class SourceError(DataError):
    """A source is unreadable, empty, malformed, mislabelled or unreachable."""


class InputRejected(DataError):
    """A prediction request breaks the model's input signature; ``problems`` names each field.

    Problems of the wrong type come first (they usually explain the others); past
    ``MAX_PROBLEMS`` the list ends with one entry saying how many more there are, so
    none is dropped without a word.

    >>> error = InputRejected([{"field": "age", "problem": "is null"},
    ...                        {"field": "plan", "problem": "expected a string, got number"}])
    >>> print(error)
    invalid input: plan: expected a string, got number; age: is null
      fix: send every input column with the type the model was trained on (GET /model lists them)
    >>> InputRejected([{"field": f"c{i}", "problem": "is missing"} for i in range(25)]).problems[-1]
    {'field': '(more)', 'problem': 'and 6 more'}
    """

    def __init__(
        self,
        problems: list[dict[str, Any]],
        *,
        status: int = 422,
        fix: str = "send every input column with the type the model was trained on "
        "(GET /model lists them)",
    ) -> None:
        ordered = sorted(problems, key=_type_errors_first)
        shown = "; ".join(f"{p['field']}: {p['problem']}" for p in ordered[:5])
        more = f" (and {len(ordered) - 5} more)" if len(ordered) > 5 else ""
        super().__init__(f"invalid input: {shown}{more}", fix=fix)
        if len(ordered) > MAX_PROBLEMS:
            hidden = len(ordered) - (MAX_PROBLEMS - 1)
            ordered = [
                *ordered[: MAX_PROBLEMS - 1],
                {"field": "(more)", "problem": f"and {hidden} more"},
            ]
        self.problems = ordered
        self.status = status


MAX_PROBLEMS = 20
"""The most problems an :class:`InputRejected` lists (the last says how many more)."""
TYPE_PROBLEM = "expected "
"""How a wrong-type problem begins ("expected a number, got string")."""


def _type_errors_first(problem: dict[str, Any]) -> int:
    return 0 if str(problem.get("problem", "")).startswith(TYPE_PROBLEM) else 1


class ValidationFailed(DataError):
    """Data breaks declared validation rules; ``violations`` lists each broken rule."""

    def __init__(self, dataset: str, violations: list[Any]) -> None:
        count = len(violations)
        super().__init__(
            f"dataset '{dataset}' breaks {count} validation rule{'s' if count != 1 else ''}; "
            "nothing was stored",
            fix="correct the data, or change the rules under "
            f"datasets.{dataset}.validation in forgeml.yaml",
        )
        self.dataset = dataset
        self.violations = violations
