from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.models import make_project
from forgeml.project import Project


@pytest.fixture(scope="module")
def deploy_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """One project per test module: registering models is the slow part."""
    project = make_project(tmp_path_factory.mktemp("deploy"))
    yield project
    project.close()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("exports")
