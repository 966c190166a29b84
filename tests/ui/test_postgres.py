"""The UI on a PostgreSQL store: every page, the filter and keyset pages, an action."""

from __future__ import annotations

import re

import pytest

from forgeml.project import Project
from forgeml.registry import model_version
from ui.client import UIClient
from ui.small_project import EVIL, build

pytestmark = pytest.mark.postgres


def test_every_page_and_action_on_postgresql(pg_ui: tuple[Project, UIClient]) -> None:
    project, client = pg_ui
    found = build(project)
    runs = found["runs"]
    assert isinstance(runs, list)
    for path in [
        "/",
        "/datasets",
        "/datasets/credit",
        "/runs",
        f"/runs/{runs[0]}",
        f"/runs/compare?ids={','.join(runs[:3])}",
        "/models",
        "/models/credit",
        "/models/credit/versions/2",
        "/models/credit/monitoring",
    ]:
        status, page, _ = client.get(path)
        assert status == 200, (path, page[:300])
        assert EVIL not in page
    # a text param compared with a number is no match, not a database error
    status, page, _ = client.get(
        "/runs?filter=metrics.roc_auc+%3E%3D+0.8+and+params.candidate+%3D+%27lightgbm%27"
        "+or+params.candidate+%3E+1"
    )
    shown = re.findall(r'<a href="/runs/([0-9a-f]{32})">', page)
    assert status == 200 and set(shown) == {runs[6], runs[9]}
    seen: list[str] = []
    url = "/runs?limit=5&sort=metrics.roc_auc"
    while url:
        _, page, _ = client.get(url)
        seen += re.findall(r'<a href="/runs/([0-9a-f]{32})">', page)
        more = re.search(r'<a id="more" href="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else ""
    assert seen == list(reversed(runs))
    form = {"version": "2", "reason": "pg", "admin_key": "k", "confirm": "yes"}
    status, _, _ = client.post("/models/credit/actions/promote", form)
    assert status == 303
    assert model_version("credit@champion", project=project).version == 2
