"""The example pipeline project (examples/pipeline), copied to a temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from forgeml.project import Project
from pipeline_example import copy_example


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The example project on its embedded stores (shared by a module's tests)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        project = copy_example(tmp_path_factory.mktemp("example") / "credit")
        yield project
        project.close()
