"""GET /docs: Swagger UI served offline, the real address, a typical request as example."""

from __future__ import annotations

import json
import re

import pytest

from forgeml.data.versions import dataset
from forgeml.project import Project
from forgeml.registry import promote, register_model
from forgeml.serve.example import request_example
from serve.serving import credit_table, fit_bundle, live_server, register


def _spec_in(page: str) -> dict:
    found = re.search(r"spec: (\{.*\}),\n", page)
    assert found is not None
    return json.loads(found.group(1))


def test_docs_is_swagger_ui_from_the_package_with_no_cdn(sqlite_project: Project) -> None:
    register(sqlite_project)
    with live_server(sqlite_project, log=False) as (_, client):
        status, page, headers = client.get("/docs")
        assert status == 200 and headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/docs/assets/") for s in sources)
        for source in sources:
            status, body, headers = client.get(source)
            assert status == 200 and len(body) > 100
        assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js")[1]
        spec = _spec_in(page)
        assert spec["servers"] == [{"url": f"http://127.0.0.1:{client.port}"}]
        assert spec["info"]["title"] == "forgeml: credit"


def test_the_example_is_a_typical_training_row(sqlite_project: Project) -> None:
    from forgeml import ingest

    table = credit_table()
    ingest(table, name="credit_data", project=sqlite_project)
    bundle, signature = fit_bundle(table, flavor="lightgbm")
    version = register_model(
        "credit",
        bundle,
        signature=signature,
        metrics={},
        lineage={"dataset": "credit_data@1"},
        project=sqlite_project,
    )
    promote(version.ref, reason="test", project=sqlite_project)
    profile = dataset("credit_data@1", project=sqlite_project).profile["columns"]
    with live_server(sqlite_project, log=False) as (_, client):
        spec = _spec_in(client.get("/docs")[1])
        example = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
            "example"
        ]
        assert example["income"] == pytest.approx(profile["income"]["quantiles"]["0.5"])
        assert example["age"] == round(profile["age"]["quantiles"]["0.5"])
        assert example["plan"] == profile["plan"]["top"][0][0]
        paperless = profile["paperless"]
        assert example["paperless"] is (paperless["true"] > paperless["false"])
        assert example["opened"].startswith("2025-")
        status, body, _ = client.post("/predict", example)
        assert status == 200 and "warnings" not in body


def test_without_a_training_profile_the_example_stays_in_range() -> None:
    inputs = [
        {"name": "x", "kind": "float", "min": 2.0, "max": 4.0},
        {"name": "n", "kind": "integer", "min": 1, "max": 4},
        {"name": "c", "kind": "category", "categories": ["b", "a"]},
        {
            "name": "t",
            "kind": "timestamp",
            "min": "2025-01-01T00:00:00",
            "max": "2025-01-03T00:00:00",
        },
        {"name": "f", "kind": "boolean"},
    ]
    assert request_example(inputs, {}) == {
        "x": 3.0,
        "n": 2,
        "c": "b",
        "t": "2025-01-02T00:00:00",
        "f": False,
    }
