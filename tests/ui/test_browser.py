"""The UI in a real browser (Playwright driving Debian's Chromium): a person's path through
runs -> compare -> model -> promote -> monitoring, and models -> model, asserting what the
page shows and that the alias moved in the store. A failing test leaves a screenshot beside
its output.

With FORGEML_UI_SCREENSHOTS=DIR the tests also save each page's picture there (the README
and docs/ui.md show them).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.registry import model_version
from forgeml.store import registry as registry_queries
from ui.live import live_ui

CHROMIUM = os.environ.get("FORGEML_CHROMIUM", "/usr/bin/chromium")
KEY = "browser-key"
Built = tuple[Project, dict[str, Any]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("browser tests need the 'playwright' package: pip install -e '.[dev]'")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or point FORGEML_CHROMIUM at a Chromium binary)"
        )
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Error as error:
            pytest.skip(f"Chromium at {CHROMIUM} does not start here: {error.message[:300]}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def base(built: Built) -> Iterator[str]:
    project, _ = built
    with live_ui(project, KEY) as url:
        yield url


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    external: list[str] = []
    opened.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith("http://127.0.0.1") else None,
    )
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    failed = getattr(request.node, "failed_call", False)
    if failed:
        shot = Path(os.environ.get("FORGEML_UI_FAILURES", tmp_path)) / f"{request.node.name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    context.close()
    assert not external, f"the page fetched from other hosts: {external}"
    assert not errors, f"script errors on the page: {errors}"


def _drawn(figure: Any, *, series: int | None = None) -> Any:
    """Wait until the chart in ``figure`` is drawn (a canvas, ``series`` lines or bar sets)."""
    from playwright.sync_api import expect

    expect(figure).to_have_attribute("data-drawn", re.compile(r"^\d+$"), timeout=30_000)
    if series is not None:
        assert figure.get_attribute("data-drawn") == str(series)
    assert figure.locator("canvas").count() == 1
    return figure


def _picture(page: Any, name: str) -> None:
    folder = os.environ.get("FORGEML_UI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


def test_runs_compare_model_promote_monitoring(page: Any, base: str, built: Built) -> None:
    project, found = built
    page.goto(base + "/")
    assert page.locator("#models").get_by_role("link", name="credit").count() == 1
    assert "v1" in page.locator("#models").inner_text()
    _picture(page, "home")

    page.get_by_role("link", name="Runs").first.click()
    page.wait_for_url(base + "/runs")
    assert page.locator("tr.run-row").count() == 12
    _picture(page, "runs")
    for box in page.locator("input.pick").all()[:3]:
        box.check()
    page.locator("#compare").click()
    page.wait_for_url("**/runs/compare?ids=*")
    assert page.locator("h1").inner_text() == "Compare 3 runs"
    _drawn(page.locator("#parallel figure.fm-chart"), series=3)  # a line per run
    scatter = _drawn(page.locator("#scatter figure.fm-chart"), series=1)
    scatter.locator(".u-over").hover()  # the legend shows the run under the cursor
    hovered = scatter.locator(".u-legend .u-series").nth(1).locator(".u-value").inner_text()
    assert hovered.split(":")[0] in {r[:8] for r in found["runs"]}, hovered
    assert "params.learning_rate" in page.locator("#compare-table").inner_text()
    _picture(page, "compare")

    page.goto(base + "/models/credit")
    assert "champion → v1" in page.locator("#aliases").inner_text()
    form = page.locator("#promote-form")
    form.locator("input[name=version]").fill("2")
    form.locator("input[name=reason]").fill("better auc in the browser")
    form.locator("input[name=admin_key]").fill(KEY)
    form.locator("input[name=confirm]").check()
    form.get_by_role("button", name="Promote").click()
    page.wait_for_url("**/models/credit?done=*")
    assert "champion is now on version 2" in page.locator("#done").inner_text()
    assert "champion → v2" in page.locator("#aliases").inner_text()
    assert "better auc in the browser" in page.locator("#audit").inner_text()
    assert model_version("credit@champion", project=project).version == 2
    _picture(page, "model")

    page.locator("#monitoring-link").click()
    page.wait_for_url("**/models/credit/monitoring")
    drift = _drawn(page.locator("#drift-chart figure.fm-chart"), series=1)
    drift.locator(".u-over").hover()  # the window under the cursor, by its start time (UTC)
    when = drift.locator(".u-legend .u-series").first.locator(".u-value").inner_text()
    assert re.match(r"\d{4}-\d{2}-\d{2}", when), when
    assert page.locator("#windows tr").count() == 4
    assert page.locator("#alerts tr").count() > 1
    assert "the champion stays" in page.locator("#cycles").inner_text()
    assert page.locator("#feature-drift td.heat").count() >= 3
    _picture(page, "monitoring")
    page.locator("#reports a").first.click()
    page.wait_for_load_state()
    assert page.url.endswith("/reports/credit-monitoring.html")
    _drawn(page.locator("#timeline figure.fm-chart").first, series=1)  # its inlined charts


def test_a_wrong_key_is_refused_and_nothing_moves(page: Any, base: str, built: Built) -> None:
    project, _ = built
    before = model_version("credit@champion", project=project).version
    page.goto(base + "/models/credit")
    form = page.locator("#rollback-form")
    form.locator("input[name=reason]").fill("try")
    form.locator("input[name=admin_key]").fill("not-the-key")
    form.locator("input[name=confirm]").check()
    form.get_by_role("button", name="Roll back").click()
    page.wait_for_load_state()
    assert "admin key is missing or wrong" in page.locator("#error-message").inner_text()
    assert model_version("credit@champion", project=project).version == before


def test_next_page_columns_and_filter(page: Any, base: str) -> None:
    page.goto(base + "/runs?limit=5")
    assert page.locator("tr.run-row").count() == 5
    page.locator("#more").click()  # htmx appends the next page in place
    page.locator("tr.run-row").nth(9).wait_for()  # (the page's CSP forbids evaluated scripts)
    assert page.locator("tr.run-row").count() == 10
    assert page.url == base + "/runs?limit=5"
    page.locator("#runs-filter summary").click()
    page.locator("#runs-filter input[value='params.learning_rate']").check()
    page.locator("#runs-filter input[name=filter]").fill(
        "metrics.roc_auc > 0.8 and params.candidate = 'lightgbm'"
    )
    page.locator("#runs-filter button").click()
    page.wait_for_url("**/runs?filter=*")
    assert page.locator("tr.run-row").count() == 2
    assert "params.learning_rate" in page.locator("#runs thead").inner_text()


def test_each_page_renders_with_its_charts(page: Any, base: str, built: Built) -> None:
    _, found = built
    page.goto(base + "/runs/" + found["runs"][1])
    _drawn(page.locator("figure.fm-chart").first, series=1)  # the loss curve
    assert "candidate" in page.locator("#params").inner_text()
    page.goto(base + "/datasets/credit")
    assert "income" in page.locator("#schema").inner_text()
    histograms = page.locator("figure.fm-chart[data-kind=bars]")
    assert histograms.count() >= 4
    for i in range(histograms.count()):
        _drawn(histograms.nth(i), series=1)
    _picture(page, "dataset")
    page.goto(base + "/models/credit/versions/1")
    card = page.frame_locator("#card")
    assert card.locator("body").inner_text(timeout=30_000)
    _picture(page, "version")
    page.goto(base + "/datasets")
    assert "<script>alert(1)</script>" in page.locator("#datasets").inner_text()  # as text


def test_the_models_page_lists_a_model_with_its_aliases_and_opens_it(
    page: Any, base: str, built: Built
) -> None:
    project, _ = built
    with project.store.read() as session:
        held = registry_queries.aliases(session, registry_queries.get_model(session, "credit").id)
    assert "champion" in held
    page.goto(base + "/models")
    assert page.locator("h1").inner_text() == "Models"
    row = page.locator("#models tr").filter(has=page.get_by_role("link", name="credit", exact=True))
    assert row.count() == 1
    shown = row.locator(".pill").all_inner_texts()
    assert shown == [f"{alias} v{version}" for alias, version in held.items()]
    assert row.get_by_role("link", name="v2").count() == 1  # the latest version
    _picture(page, "models")

    row.get_by_role("link", name="credit", exact=True).click()
    page.wait_for_url(base + "/models/credit")
    assert page.locator("h1").inner_text() == "Model credit"
    aliases = page.locator("#aliases").inner_text()
    for alias, version in held.items():
        assert f"{alias} → v{version}" in aliases
    assert page.locator("#versions tr").count() == 3  # a header and two versions
