"""A forgeml project: a folder with ``forgeml.yaml`` and its stores.

>>> import tempfile
>>> project = Project.init(tempfile.mkdtemp(), name="churn")
>>> project.spec.project
'churn'
>>> (project.root / "notebooks").mkdir()
>>> Project.find(project.root / "notebooks").root == project.root
True
>>> project.close()
"""

from __future__ import annotations

import getpass
import os
import socket
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from forgeml.artifacts import ArtifactStore, open_artifact_store
from forgeml.artifacts.local import TMP_DIR
from forgeml.artifacts.tempfiles import Reclaimed, reclaim
from forgeml.artifacts.urls import local_path_from_url
from forgeml.config import SPEC_FILE, STATE_DIR, Settings, Spec, load_spec
from forgeml.errors import ConfigError, ProjectNotFound
from forgeml.spec_template import SPEC_TEMPLATE, ignore_state

if TYPE_CHECKING:  # SQLAlchemy loads when a store is first used, not with the project
    from forgeml.store import MetadataStore
    from forgeml.store.ledger import PipelineLedger

__all__ = ["ENV_PROJECT", "Project", "ProjectLike", "resolve_project", "who"]

ENV_PROJECT = "FORGEML_PROJECT"


class Project:
    """The spec, the resolved settings and (opened on first use) the two stores."""

    def __init__(self, root: Path, spec: Spec, settings: Settings) -> None:
        self.root = root
        self.spec = spec
        self.settings = settings
        self.reclaimed = Reclaimed(0, 0)

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> Project:
        """The project containing ``start`` (default: ``$FORGEML_PROJECT`` or the cwd)."""
        explicit = start or os.environ.get(ENV_PROJECT)
        origin = Path(explicit or Path.cwd()).expanduser().resolve()
        if explicit and not origin.is_dir():
            raise ProjectNotFound(
                f"project folder {origin} does not exist",
                fix="pass an existing folder with --project (or FORGEML_PROJECT), "
                "or create one with 'forgeml init DIR'",
            )
        for folder in (origin, *origin.parents):
            if (folder / SPEC_FILE).is_file():
                return cls.load(folder)
        raise ProjectNotFound(
            f"no {SPEC_FILE} in {origin} or any folder above it",
            fix="run 'forgeml init' to create a project here, or pass --project DIR",
        )

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Project:
        """Open the project in ``root``, first deleting temp files left by killed processes."""
        folder = Path(root).resolve()
        spec = load_spec(folder / SPEC_FILE)
        project = cls(folder, spec, Settings.resolve(folder, spec))
        project.reclaimed = project.reclaim_temp_files()
        return project

    def temp_folders(self) -> list[Path]:
        """Where this project's temporary files live: ``.forgeml/tmp`` and, for a local
        artifact store or the cache of a remote one, the store's own ``tmp`` folder (a
        rename into the store must not cross file systems)."""
        folders = [self.state_dir / "tmp", self.state_dir / "cache" / TMP_DIR]
        try:
            store = local_path_from_url(self.settings.artifacts_url)
        except ConfigError:
            store = None  # reported when the store is opened
        if store is not None:
            folders.append(Path(os.path.abspath(store.expanduser())) / TMP_DIR)
        return list(dict.fromkeys(folders))

    def reclaim_temp_files(self, *, dry_run: bool = False) -> Reclaimed:
        """Delete the temp files of writers that are gone; returns what was freed."""
        files = size = 0
        for folder in self.temp_folders():
            freed = reclaim(folder, dry_run=dry_run)
            files, size = files + freed.files, size + freed.bytes
        return Reclaimed(files, size)

    @classmethod
    def init(cls, directory: str | os.PathLike[str] = ".", *, name: str | None = None) -> Project:
        """Create a project in ``directory``; an existing ``forgeml.yaml`` is kept as it is.

        Writes the commented spec template and a ``.gitignore`` entry for ``.forgeml/``.
        """
        folder = Path(directory).resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{folder} is a file", fix="choose a folder for the project")
        folder.mkdir(parents=True, exist_ok=True)
        spec_path = folder / SPEC_FILE
        if not spec_path.exists():
            text = SPEC_TEMPLATE.format(name=_quote(name or folder.name or "forgeml-project"))
            tmp = spec_path.with_suffix(".yaml.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(spec_path)
        (folder / STATE_DIR).mkdir(exist_ok=True)
        ignore_state(folder)
        project = cls.load(folder)
        _ = project.store  # create the metadata store now, so init reports any problem
        return project

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def tmp_dir(self) -> Path:
        path = self.state_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @cached_property
    def store(self) -> MetadataStore:
        from forgeml.store import MetadataStore

        return MetadataStore(self.settings.db_url)

    @cached_property
    def ledger(self) -> PipelineLedger:
        """The pipeline runs' records and step cache (plain ``sqlite3`` on a SQLite store)."""
        from forgeml.store.ledger import open_ledger

        return open_ledger(self.settings.db_url, lambda: self.store)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return open_artifact_store(self.settings.artifacts_url, cache_dir=self.state_dir / "cache")

    def close(self) -> None:
        if "ledger" in self.__dict__:
            self.ledger.close()
            del self.__dict__["ledger"]
        if "store" in self.__dict__:
            self.store.close()
            del self.__dict__["store"]

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.root)!r})"


ProjectLike = Project | str | os.PathLike[str] | None


def resolve_project(project: ProjectLike) -> Project:
    """A :class:`Project` from an instance, a folder, or None (search from the cwd)."""
    return project if isinstance(project, Project) else Project.find(project)


def who() -> str:
    """``user@host`` of this process, recorded as the author of a change."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:200]


def _quote(name: str) -> str:
    import json

    return name if name.replace("-", "").replace("_", "").isalnum() else json.dumps(name)
