"""What a step function receives: the project, its parameters and its upstream outputs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError

if TYPE_CHECKING:
    from forgeml.pipeline.file_hashes import FileHashes
    from forgeml.project import Project

__all__ = ["StepContext", "StepFailed", "file_sha256"]


class StepFailed(ConfigError):
    """A step's own check failed (a gate, a validation): the step fails without retries."""


@dataclass(frozen=True)
class StepContext:
    """The inputs of one step run. ``upstream`` maps each step it runs after to its outputs."""

    project: Project
    pipeline: str
    step: str
    params: Mapping[str, Any]
    upstream: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    say: Callable[[str], None] = field(default=lambda _text: None, repr=False)
    hashes: FileHashes | None = field(default=None, repr=False, compare=False)

    def find(self, key: str) -> Any:
        """``params[key]``, else the value an upstream step output under ``key`` (the nearest
        one: the last step named in ``after``), else None."""
        if self.params.get(key) is not None:
            return self.params[key]
        for outputs in reversed(list(self.upstream.values())):
            if outputs.get(key) is not None:
                return outputs[key]
        return None

    def file_sha256(self, path: Path) -> str:
        """sha256 of a file the step reads; within a pipeline run, hashed again only when
        the file's stat changed since it was last hashed."""
        return self.hashes.sha256(path) if self.hashes is not None else file_sha256(path)

    def path(self, key: str) -> Path:
        """Parameter ``key`` as a path; a relative path is relative to the project folder."""
        value = self.params.get(key)
        if value is None:
            raise ConfigError(
                f"step {self.step!r} of pipeline {self.pipeline!r} needs the parameter {key!r}",
                fix=f"add params: {{{key}: ...}} to the step in forgeml.yaml",
            )
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"parameter {key!r} of step {self.step!r} must be a path, not {value!r}",
                fix="write a file path, relative to the project folder or absolute",
            )
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.project.root / path


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes; a clear error when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise ConfigError(
            f"cannot read {path}: {error.strerror or error}",
            fix="check the path in the step's params",
        ) from None
    return digest.hexdigest()
