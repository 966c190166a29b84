"""The project a command runs in, chosen by --project or found from the current folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # the project's stores load SQLAlchemy: only commands that use one pay
    from forgeml.project import Project


@dataclass
class State:
    project_dir: Path | None = None
    _project: Project | None = field(default=None, repr=False)

    def project(self) -> Project:
        if self._project is None:
            from forgeml.project import Project

            self._project = Project.find(self.project_dir)
        return self._project

    def close(self) -> None:
        if self._project is not None:
            self._project.close()


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj
