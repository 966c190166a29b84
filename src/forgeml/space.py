"""Disk space of a project: what its datasets, models, logs and temporary files take.

>>> import tempfile
>>> project = Project.init(tempfile.mkdtemp(), name="docs")
>>> [(part.name, part.files) for part in space(project=project).parts]
[('datasets', 0), ('models', 0), ('prediction logs', 0), ('temporary files', 0)]
>>> project.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from forgeml.artifacts.tempfiles import Reclaimed, folder_size
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.store.space import stored_bytes

__all__ = ["Space", "SpacePart", "space"]


@dataclass(frozen=True)
class SpacePart:
    name: str
    files: int
    bytes: int


@dataclass(frozen=True)
class Space:
    """What each part of the project takes, and what was freed on the way."""

    parts: list[SpacePart]
    freed: Reclaimed  # temp files of killed processes, deleted when the project opened

    @property
    def total_bytes(self) -> int:
        return sum(part.bytes for part in self.parts)


def space(*, project: ProjectLike = None) -> Space:
    """Measure the project and delete the temporary files that no live process will finish."""
    found: Project = resolve_project(project)
    freed = found.reclaimed
    again = found.reclaim_temp_files()  # files whose writer ended since the project opened
    freed = Reclaimed(freed.files + again.files, freed.bytes + again.bytes)
    with found.store.read() as session:
        stored = stored_bytes(session)
    temp = [folder_size(folder) for folder in found.temp_folders()]
    names = {"datasets": "datasets", "models": "models", "logs": "prediction logs"}
    parts = [SpacePart(names[kind], *stored[kind]) for kind in ("datasets", "models", "logs")]
    parts.append(
        SpacePart("temporary files", sum(t.files for t in temp), sum(t.bytes for t in temp))
    )
    return Space(parts, freed)
