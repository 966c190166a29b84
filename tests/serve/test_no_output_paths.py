"""No HTTP route takes a file path from a request: writing files is for the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from forgeml.project import Project
from serve.serving import live_server, register

PATH_LIKE = re.compile(r"path|file|output|out|dir|folder|dest|target", re.I)


def _names(schema: Any) -> set[str]:
    """Every property and parameter name anywhere in an OpenAPI fragment."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found |= set(value)
            if key == "parameters" and isinstance(value, list):
                found |= {p.get("name", "") for p in value if isinstance(p, dict)}
            found |= _names(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _names(item)
    return found


def test_no_route_takes_or_honours_an_output_path(sqlite_project: Project, tmp_path: Path) -> None:
    register(sqlite_project, flavor="lightgbm")
    target = tmp_path / "written"
    target.mkdir()
    fields = {
        name: str(target / f"{name}.html")
        for name in ("output", "path", "file", "out", "filename", "dest")
    }
    with live_server(sqlite_project, log=False) as (app, client):
        routes = set(app._routes)
        status, document, _ = client.get("/openapi.json")
        assert status == 200
        documented = {
            (method.upper(), path)
            for path, operations in document["paths"].items()
            for method in operations
        }
        # Every route a request can reach is documented, apart from the two that serve the docs.
        assert routes - documented <= {("GET", "/openapi.json"), ("GET", "/docs")}
        operations = [document["paths"][path][m.lower()] for m, path in documented]
        inputs = {n for n in _names(operations) if n not in {"request_id", "label"}}
        # Model inputs are named by the training data; no operation-level field is path-like.
        record = set(document["components"]["schemas"]["Record"].get("properties", {}))
        assert not {n for n in inputs - record if PATH_LIKE.search(n)}
        for method, path in sorted(routes):
            query = "?" + urlencode(fields)
            status, _, _ = client.request(
                method, path + query, fields if method == "POST" else None
            )
            assert status < 500, (method, path, status)
    assert list(target.iterdir()) == []
