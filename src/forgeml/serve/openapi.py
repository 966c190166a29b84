"""The server's OpenAPI 3.1 document, with the served version's inputs as the record schema,
and an offline HTML page (``GET /docs``) that lists it with curl examples.
"""

from __future__ import annotations

import html
import json
from typing import Any

from forgeml.serve.scoring import Scorer

__all__ = ["docs_page", "openapi_document"]

_JSON_SCHEMA = {
    "integer": {"type": "number"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "category": {"type": "string"},
    "text": {"type": "string"},
    "timestamp": {"type": "string", "format": "date-time"},
}
_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "fix": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "row": {"type": "integer"},
                    "problem": {"type": "string"},
                    "expected": {"type": "string"},
                },
            },
        },
    },
    "required": ["error"],
}


def _record_schema(scorer: Scorer | None) -> dict[str, Any]:
    if scorer is None:
        return {"type": "object"}
    properties: dict[str, Any] = {}
    for column in scorer.schema.inputs:
        schema: dict[str, Any] = dict(_JSON_SCHEMA.get(str(column.get("kind")), {}))
        if column.get("nullable"):
            schema = {"anyOf": [schema, {"type": "null"}]} if schema else {}
        if column.get("kind") == "category" and column.get("categories"):
            schema["examples"] = list(column["categories"])[:5]
        if column.get("min") is not None and column.get("kind") in ("integer", "float"):
            schema["description"] = f"training range [{column['min']}, {column['max']}]"
        properties[str(column["name"])] = schema
    required = list(properties)
    for name in scorer.schema.passthrough:  # sent along to the log and the reply
        properties[name] = {"type": ["string", "number", "boolean", "null"]}
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def openapi_document(model: str, scorer: Scorer | None) -> dict[str, Any]:
    """The API of a server for ``model``, with ``scorer``'s inputs when one is loaded."""
    record = {"$ref": "#/components/schemas/Record"}
    version = f"{model}@{scorer.number}" if scorer is not None else model
    errors = {
        code: {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code, text in (
            ("400", "malformed JSON"),
            ("401", "missing or wrong API key"),
            ("413", "body or row count over the limit"),
            ("422", "the input breaks the model's signature"),
        )
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"forgeml: {model}", "version": version},
        "paths": {
            "/predict": {
                "post": {
                    "summary": "Score one record, a list of records, or columns",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        record,
                                        {"type": "array", "items": record},
                                        {
                                            "type": "object",
                                            "properties": {
                                                "records": {"type": "array", "items": record}
                                            },
                                            "required": ["records"],
                                        },
                                        {
                                            "type": "object",
                                            "properties": {"columns": {"type": "object"}},
                                            "required": ["columns"],
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "predictions",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Predictions"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Ground truth for earlier predictions, by request id",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Feedback"},
                                        {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Feedback"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "labels accepted"},
                        **errors,
                        **{
                            code: {**errors["401"], "description": text}
                            for code, text in (
                                ("403", "a web page of another site sent it"),
                                ("409", "the server keeps no prediction log"),
                                ("415", "the body is not declared application/json"),
                            )
                        },
                    },
                }
            },
            "/health": {"get": {"summary": "The process is alive", "responses": _ok()}},
            "/ready": {"get": {"summary": "A model version is loaded", "responses": _ok()}},
            "/model": {"get": {"summary": "Name, version, inputs, rollout", "responses": _ok()}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": _ok()}},
            "/admin/reload": {
                "post": {"summary": "Re-read the alias and rollout now", "responses": _ok()}
            },
            "/admin/rollout": {
                "get": {"summary": "The active rollout", "responses": _ok()},
                "post": {"summary": "Start or end a shadow or canary", "responses": _ok()},
            },
        },
        "components": {
            "schemas": {
                "Record": _record_schema(scorer),
                "Predictions": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "string"},
                        "model": {"type": "string"},
                        "version": {"type": "integer"},
                        "predictions": {"type": "array"},
                        "scores": {"type": "array", "items": {"type": "number"}},
                        "probabilities": {"type": "array"},
                        "ids": {"type": "array", "items": {"type": "string"}},
                        "warnings": {"type": "array"},
                        "passthrough": {"type": "object"},
                    },
                    "required": ["request_id", "model", "version", "predictions"],
                },
                "Feedback": {
                    "type": "object",
                    "properties": {"request_id": {"type": "string"}, "label": {}},
                    "required": ["request_id", "label"],
                },
                "Error": _ERROR,
            }
        },
    }


def _ok() -> dict[str, Any]:
    return {"200": {"description": "OK"}}


def docs_page(document: dict[str, Any]) -> str:
    """A self-contained HTML page describing ``document`` (no scripts, no CDN)."""
    title = html.escape(document["info"]["title"])
    record = document["components"]["schemas"]["Record"].get("properties", {})
    example = {name: _example(schema) for name, schema in record.items()}
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        f"<td>{html.escape(json.dumps(schema))}</td></tr>"
        for name, schema in record.items()
    )
    routes = "".join(
        f"<tr><td>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
        f"<td>{html.escape(op.get('summary', ''))}</td></tr>"
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    )
    body = html.escape(json.dumps(example))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
td{{padding:.2rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}
pre{{background:#f4f4f4;padding:.8rem;overflow-x:auto}}</style></head><body>
<h1>{title}</h1><p>Version {html.escape(document["info"]["version"])}.
The machine-readable API is at <a href="openapi.json">/openapi.json</a>.</p>
<h2>Routes</h2><table>{routes}</table>
<h2>Score a record</h2>
<pre>curl -s localhost:8000/predict -H 'content-type: application/json' -d '{body}'</pre>
<h2>Send the label later</h2>
<pre>curl -s localhost:8000/feedback -H 'content-type: application/json' \\
  -d '{{"request_id": "REQUEST_ID", "label": LABEL}}'</pre>
<h2>Inputs</h2><table>{rows}</table></body></html>"""


def _example(schema: dict[str, Any]) -> Any:
    inner = schema.get("anyOf", [schema])[0] if "anyOf" in schema else schema
    if "examples" in schema:
        return schema["examples"][0]
    kind = inner.get("type")
    if inner.get("format") == "date-time":
        return "2025-01-31T12:00:00"
    return {"number": 0, "boolean": False, "string": "text"}.get(str(kind))
