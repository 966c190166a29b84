from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.ui.app import UIApp
from ui.client import UIClient
from ui.small_project import build

__all__ = ["built", "pg_ui"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, dict[str, object]]]:
    """The small project on SQLite, built once per test module."""
    folder: Path = tmp_path_factory.mktemp("ui") / "proj"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        patch.delenv("FORGEML_ALERT_WEBHOOKS", raising=False)
        project = Project.init(folder, name="ui-test")
        found = build(project)
        yield project, found
        project.close()


@pytest.fixture
def pg_ui(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Project, UIClient]]:
    """An empty project on the PostgreSQL store, and a client of its UI (admin key "k")."""
    monkeypatch.setenv("FORGEML_DB_URL", pg_url)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    monkeypatch.delenv("FORGEML_ALERT_WEBHOOKS", raising=False)
    project = Project.init(tmp_path / "proj", name="pg")
    client = UIClient(UIApp(project, admin_key="k"))
    try:
        yield project, client
    finally:
        client.close()
        project.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        item.failed_call = True  # type: ignore[attr-defined]
