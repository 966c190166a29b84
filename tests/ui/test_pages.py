"""Every page of the UI on a small project: what it shows, and what it refuses."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.report.charts import spec
from forgeml.ui.app import UIApp
from ui.client import UIClient
from ui.small_project import EVIL

Built = tuple[Project, dict[str, Any]]


@pytest.fixture(scope="module")
def client(built: Built) -> Iterator[UIClient]:
    project, _ = built
    ui = UIClient(UIApp(project, admin_key="s3cret-key"))
    yield ui
    ui.close()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "hx-get", "hx-post") and value:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)
        # a chart's data block is JSON, which the browser never runs
        self.in_script = tag == "script" and ("type", "application/json") not in attrs

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        self.in_script = False


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


def _pages(built: Built) -> list[str]:
    _, found = built
    run = found["runs"][0]
    ids = ",".join(found["runs"][:5])
    return [
        "/",
        "/datasets",
        "/datasets/credit",
        "/runs",
        f"/runs/{run}",
        f"/runs/compare?ids={ids}",
        "/models",
        "/models/credit",
        "/models/credit/versions/1",
        "/models/credit/monitoring",
    ]


def test_every_page_answers_and_shows_its_content(client: UIClient, built: Built) -> None:
    _, found = built
    expected = {
        "/": ["ui-test", "credit", "v1", "roc_auc"],
        "/datasets": ["credit"],
        "/datasets/credit": ["income", "400"],
        "/runs": [found["runs"][-1][:8], "lightgbm"],
        "/models": ["champion v1"],
        "/models/credit": ["champion", "v2", "promote"],
        "/models/credit/versions/1": ["model card", "income"],
        "/models/credit/monitoring": ["Drift share per window", "credit-monitoring.html"],
    }
    for path in _pages(built):
        status, page, headers = client.get(path)
        assert status == 200, (path, page[:500])
        assert headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in headers["content-security-policy"]
        for text in expected.get(path, []):
            assert text in page, (path, text)


def test_no_page_references_another_host(client: UIClient, built: Built) -> None:
    for path in _pages(built):
        _, page, _ = client.get(path)
        parsed = _parse(page)
        for link in parsed.links:
            assert not re.match(r"^(?:[a-z]+:)?//", link, re.I), (path, link)
            assert not link.lower().startswith(("javascript:", "data:")), (path, link)
        assert not parsed.scripts, (path, "inline script")  # scripts come from /static only
        assert "url(http" not in page


def test_user_strings_are_escaped_on_every_page(client: UIClient, built: Built) -> None:
    pages = [*_pages(built), "/datasets/%3Cscript%3Ealert(1)%3C%2Fscript%3E"]
    shown_escaped = 0
    for path in pages:
        status, page, _ = client.get(path)
        assert status == 200, path
        assert EVIL not in page, path
        assert "<script>alert" not in page, path
        shown_escaped += "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert shown_escaped >= 5  # params, tags, the dataset name, the cycle's reason, ...


def test_dataset_columns_are_drawn_from_their_profiles(client: UIClient) -> None:
    _, page, _ = client.get("/datasets/credit")
    assert page.count('<figure class="fm-chart" data-kind="bars">') >= 4  # numbers, categories
    _, page, _ = client.get("/datasets/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.count('<figure class="fm-chart"') == 1
    assert "<figcaption>&lt;script&gt;" in page


def test_the_dataset_page_lists_the_rules_ingest_checked(client: UIClient) -> None:
    _, page, _ = client.get("/datasets/credit")
    table = page.split('<table id="validation">')[1].split("</table>")[0]
    rows = [
        [html.unescape(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]
    assert [r for r in rows if r] == [
        ["rows >= 100", "(table)", "passed"],
        ["required", "age", "passed"],
        ["type integer", "age", "passed"],
        ["min 18", "age", "passed"],
        ["max 100", "age", "passed"],
        ["required", "plan", "passed"],
        ["allowed: 'basic', 'pro', 'family', 'student'", "plan", "passed"],
    ]
    # a version stored by other means has no record of its rules, and says so
    _, page, _ = client.get("/datasets/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert 'id="validation">No validation record' in page


def test_the_hostile_dataset_name_is_a_link_and_its_page_escapes_it(client: UIClient) -> None:
    _, page, _ = client.get("/datasets")
    assert "/datasets/%3Cscript%3Ealert%281%29%3C%2Fscript%3E" in page
    status, page, _ = client.get("/datasets/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert status == 200 and "&lt;script&gt;" in page and EVIL not in page


def test_runs_filter_sort_and_columns(client: UIClient, built: Built) -> None:
    _, found = built
    status, page, _ = client.get(
        "/runs?filter=metrics.roc_auc+%3E+0.8+and+params.candidate+%3D+%27lightgbm%27"
        "&cols=metrics.roc_auc,params.learning_rate"
    )
    assert status == 200
    shown = re.findall(r'<a href="/runs/([0-9a-f]{32})">', page)
    # runs 6 and 9 are lightgbm with roc_auc 0.82 and 0.88 (0.70 + 0.02 i)
    assert set(shown) == {found["runs"][6], found["runs"][9]}
    assert "<th><a" in page and "params.learning_rate" in page
    _, page, _ = client.get("/runs?sort=metrics.roc_auc&order=asc")
    shown = re.findall(r'<a href="/runs/([0-9a-f]{32})">', page)
    assert shown == found["runs"]


def test_runs_keyset_pages_cover_every_run_once(client: UIClient, built: Built) -> None:
    _, found = built
    for sort in ("started", "metrics.roc_auc", "params.candidate"):
        seen: list[str] = []
        url = f"/runs?limit=5&sort={sort}"
        while url:
            status, page, _ = client.get(url)
            assert status == 200, page[:400]
            seen += re.findall(r'<a href="/runs/([0-9a-f]{32})">', page)
            more = re.search(r'<a id="more" href="([^"]+)"', page)
            url = more.group(1).replace("&amp;", "&") if more else ""
        assert sorted(seen) == sorted(found["runs"]), sort
        assert len(seen) == len(set(seen)) == 12
        assert len(re.findall(r"next page", page)) == 0


def test_bad_filters_say_what_is_wrong(client: UIClient) -> None:
    for bad, words in [
        ("metrics.roc_auc >", "ends too early"),
        ("params.x = 1; drop table runs", "unexpected character"),
        ("secret.x = 1", "is not a run field"),
        ("metrics.a > 1 xor metrics.b < 2", "'and' or 'or'"),
    ]:
        status, page, _ = client.get("/runs?filter=" + bad.replace(" ", "+").replace(";", "%3B"))
        assert status == 200
        assert "filter-error" in page and words in html.unescape(page), bad
    status, page, _ = client.get("/runs?after=not-a-cursor")
    assert status == 200 and "filter-error" in page and "the page cursor is damaged" in page


def test_compare_draws_parallel_coordinates_scatter_and_differences(
    client: UIClient, built: Built
) -> None:
    _, found = built
    ids = ",".join(found["runs"][:4])
    status, page, _ = client.get(f"/runs/compare?ids={ids}&curve=loss")
    assert status == 200
    parallel = spec(page[page.index('id="parallel"') :])
    assert [r["name"] for r in parallel["series"]] == [r[:8] for r in found["runs"][:4]]
    scatter = spec(page[page.index('id="scatter"') :])
    assert sorted(scatter["series"][0]["labels"]) == sorted(r[:8] for r in found["runs"][:4])
    curves = spec(page[page.index('id="curves"') :])
    assert curves["y"]["label"] == "loss" and len(curves["series"]) == 4
    table = page.split('id="compare-table"')[1]
    assert "params.learning_rate" in table and "params.note" not in table  # same in all: hidden
    _, page, _ = client.get(f"/runs/compare?ids={ids}&diff=0")
    assert "params.note" in page.split('id="compare-table"')[1]
    status, page, _ = client.get("/runs/compare?ids=" + ",".join(["ab" * 16] * 501))
    assert status == 400 and "500" in page


def test_unknown_things_are_404_with_a_hint(client: UIClient) -> None:
    for path in ("/models/nope", "/models/credit/versions/99", "/datasets/nope", "/runs/abcdef12",
                 "/nowhere", "/static/../../etc/passwd", "/reports/..%2Fforgeml.yaml",
                 "/reports/forgeml.yaml"):  # fmt: skip
        status, page, _ = client.get(path)
        assert status == 404, path
        assert "How to fix it" in page or "no such" in page, path


def test_reports_and_the_card_are_served_sandboxed(client: UIClient) -> None:
    status, page, headers = client.get("/reports/credit-monitoring.html")
    assert status == 200 and "sandbox" in headers["content-security-policy"]
    status, page, headers = client.get("/models/credit/versions/1/card")
    policy = headers["content-security-policy"]
    assert status == 200 and "sandbox allow-scripts;" in policy
    assert "credit" in page
    # the only scripts allowed are the chart scripts the page inlines, by their hashes
    allowed = re.findall(r"'sha256-([^']+)'", policy)
    inlined = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(inlined) == 2
    assert sorted(allowed) == sorted(
        base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in inlined
    )


def test_static_files_are_the_vendored_ones(client: UIClient) -> None:
    status, body, headers = client.get("/static/htmx.min.js")
    assert (
        status == 200 and "htmx" in body and headers["content-type"].startswith("text/javascript")
    )
    status, body, _ = client.get("/static/htmx.LICENSE")
    assert status == 200 and "BSD" in body
