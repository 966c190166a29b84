"""Every read the UI makes is bounded: each SELECT on a store table carries a LIMIT or is an
aggregate (a count, a maximum), so no page reads more rows as the store grows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from forgeml.project import Project
from forgeml.registry import promote
from forgeml.store import registry as registry_queries
from forgeml.store.models import Base
from forgeml.training.tracking import start_run
from forgeml.ui import views
from forgeml.ui.app import UIApp
from ui.client import UIClient
from ui.small_project import build

Built = tuple[Project, dict[str, Any]]
TABLES = set(Base.metadata.tables)  # every table forgeml keeps grows with use
_FROM = re.compile(r"\b(?:FROM|JOIN)\s+\"?([a-z_]+)\"?", re.I)
_AGGREGATE = re.compile(r"^SELECT\s+(?:count|max|min|sum)\s*\(", re.I)


def _pages(found: dict[str, Any]) -> list[str]:
    runs = found["runs"]
    return [
        "/",
        "/?after=a",
        "/datasets",
        "/datasets?after=a",
        "/datasets/credit",
        "/datasets/credit?version=1&before=2",
        "/runs",
        "/runs?limit=5&sort=metrics.roc_auc",
        "/runs?filter=metrics.roc_auc+%3E+0.8&cols=params.learning_rate&sort=params.candidate",
        "/runs?partial=rows&limit=3",
        f"/runs/{runs[0]}",
        f"/runs/{runs[1][:8]}",
        f"/runs/compare?ids={','.join(runs[:5])}&curve=loss",
        f"/runs/compare?ids={runs[0][:8]},{runs[1]}&diff=0",
        "/models",
        "/models?after=a",
        "/models/credit",
        "/models/credit?before=2&events_before=2",
        "/models/credit/versions/1",
        "/models/credit/versions/2",
        "/models/credit/versions/1/card",
        "/models/credit/monitoring",
        "/models/credit/monitoring?before=2025-03-03T00:00:00%2B00:00",
    ]


MISSING = ["/models/nope", "/models/credit/versions/99", "/datasets/nope", "/runs/abcdef12"]


@pytest.fixture(scope="module")
def client(built: Built) -> Iterator[UIClient]:
    project, _ = built
    ui = UIClient(UIApp(project, admin_key="k"))
    yield ui
    ui.close()


def _unbounded(statement: str) -> bool:
    text = " ".join(statement.split())
    if not text.upper().startswith("SELECT") or not TABLES & {
        t.lower() for t in _FROM.findall(text)
    }:
        return False
    if _AGGREGATE.match(text) and "GROUP BY" not in text.upper():
        return False
    return re.search(r"\bLIMIT\b", text, re.I) is None


def test_every_page_reads_a_bounded_number_of_rows(client: UIClient, built: Built) -> None:
    project, found = built
    _assert_bounded(client, project, found)


@pytest.mark.postgres
def test_every_page_reads_a_bounded_number_of_rows_on_postgresql(
    pg_ui: tuple[Project, UIClient],
) -> None:
    project, client = pg_ui
    _assert_bounded(client, project, build(project))


def _assert_bounded(client: UIClient, project: Project, found: dict[str, Any]) -> None:
    """Render every page, recording each statement sent; fail on any unbounded SELECT."""
    seen: list[tuple[str, str]] = []
    current = [""]

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append((current[0], statement))

    engine = project.store.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for path in [*_pages(found), *MISSING]:
            current[0] = path
            status, page, _ = client.get(path)
            assert status == (404 if path in MISSING else 200), (path, page[:300])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    selects = [(p, s) for p, s in seen if s.lstrip().upper().startswith("SELECT")]
    assert {p for p, _ in selects} == {*_pages(found), *MISSING}  # every page was captured
    unbounded = [(p, " ".join(s.split())[:300]) for p, s in selects if _unbounded(s)]
    assert not unbounded, "\n".join(f"{p}: {s}" for p, s in unbounded)


def test_the_check_tells_bounded_from_unbounded_reads() -> None:
    assert _unbounded("SELECT runs.id FROM runs WHERE runs.status = ?")
    assert _unbounded('SELECT a.name FROM "model_aliases" AS a ORDER BY a.name')
    assert _unbounded("SELECT count(*), runs.kind FROM runs GROUP BY runs.kind")
    assert not _unbounded("SELECT runs.id FROM runs ORDER BY runs.id LIMIT ? OFFSET ?")
    assert not _unbounded("SELECT count(*) AS count_1 FROM run_artifacts WHERE run_id = ?")
    assert not _unbounded("SELECT 1")


def test_lists_cut_short_say_how_many_more(
    client: UIClient, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, found = built
    with start_run(experiment="more", project=project) as run:
        for i in range(5):
            run.log_artifact(f"file-{i}.txt", f"content {i}".encode())
        for key in ("a", "b", "c"):
            run.log_metrics({key: 1.0}, step=0)
            run.log_metrics({key: 2.0}, step=1)
    for alias in ("blue", "green", "red"):
        promote("credit@2", alias=alias, reason="a list longer than its limit", project=project)
    monkeypatch.setattr(views, "MODEL_ALIASES", 2)
    monkeypatch.setattr(views, "LISTED_ALIASES", 1)
    monkeypatch.setattr(views, "CURVES", 1)
    monkeypatch.setattr(views, "RUN_ARTIFACTS", 2)

    _, page, _ = client.get(f"/runs/{run.id}")
    assert page.count("file-") == 2 and "and 3 more artifacts" in page
    assert "and 2 more metric series" in page
    _, page, _ = client.get("/models")
    held = len(queries_aliases(project))  # champion and the three above
    assert f"and {held - 1} more aliases" in page
    _, page, _ = client.get("/models/credit")
    assert f"and {held - 2} more aliases" in page
    _, page, _ = client.get("/models/credit/versions/2")
    on_two = [a for a, v in queries_aliases(project).items() if v == 2]
    assert f"and {len(on_two) - 2} more aliases" in page
    _, page, _ = client.get(f"/runs/{found['runs'][0]}")
    assert " more " not in page  # nothing was cut


def queries_aliases(project: Project) -> dict[str, int]:
    with project.store.read() as session:
        model = registry_queries.get_model(session, "credit")
        return registry_queries.aliases(session, model.id)
