"""The server's OpenAPI 3.1 document, with the served version's inputs as the record schema.

The document is the whole truth about the server: every status code, content type and body
a route can answer is declared (a test runs schemathesis against a live server to keep it so).
"""

from __future__ import annotations

from typing import Any

from forgeml.serve.protocols.openapi import protocol_paths, protocol_schemas
from forgeml.serve.protocols.profiles import Profile
from forgeml.serve.scoring import Scorer

__all__ = ["openapi_document"]

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


_ERRORS = {
    "400": "malformed JSON",
    "401": "missing or wrong key",
    "403": "refused: admin routes disabled, or feedback from another site's web page",
    "404": "no such route",
    "408": "the request was not sent within the server's body or header timeout",
    "409": "this server keeps no prediction log",
    "413": "body or row count over the limit",
    "415": "the body is not declared application/json",
    "422": "the input breaks the model's signature",
    "429": "over the rate limit: retry after Retry-After seconds",
    "500": "internal error (the server's log says more)",
    "503": "no model version is loaded yet",
}
_JSON = "application/json"
_OBJECT = {"type": "object"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {_JSON: {"schema": schema}}


def _answers(
    ok: dict[str, Any], *codes: str, ok_type: str = _JSON, description: str = "OK"
) -> dict[str, Any]:
    """The responses of one operation: 200 with ``ok`` and the errors ``codes``."""
    answers: dict[str, Any] = {"200": {"description": description, "content": {ok_type: ok}}}
    for code in (*codes, "429", "500"):
        answers[code] = {
            "description": _ERRORS[code],
            "content": _json({"$ref": "#/components/schemas/Error"}),
        }
    answers["429"]["headers"] = {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
    }
    return answers


def _ref(name: str) -> dict[str, Any]:
    return {"schema": {"$ref": f"#/components/schemas/{name}"}}


def _body(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {_JSON: content}}


def openapi_document(
    model: str,
    scorer: Scorer | None,
    *,
    server_url: str | None = None,
    example: dict[str, Any] | None = None,
    keyed: bool = False,
    profile: Profile | None = None,
) -> dict[str, Any]:
    """The API of a server for ``model``, with ``scorer``'s inputs when one is loaded.

    ``server_url`` is where the server answers, ``example`` a typical record (the API page
    pre-fills requests with it), ``keyed`` says that an API key is required and ``profile``
    adds a platform's routes.
    """
    record = {"$ref": "#/components/schemas/Record"}
    version = f"{model}@{scorer.number}" if scorer is not None else model
    keyed_errors = ("401",) if keyed else ()
    body_errors = ("400", "408", "413", "422")
    admin = ("401", "403")
    text = {"schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/predict": {
            "post": {
                "summary": "Score one record, a list of records, or columns",
                "requestBody": _body(
                    {
                        "oneOf": [
                            record,
                            {"type": "array", "items": record},
                            {
                                "type": "object",
                                "properties": {"records": {"type": "array", "items": record}},
                                "required": ["records"],
                            },
                            {
                                "type": "object",
                                "properties": {"columns": {"type": "object"}},
                                "required": ["columns"],
                            },
                        ]
                    },
                    example,
                ),
                "responses": _answers(_ref("Predictions"), *keyed_errors, *body_errors, "503"),
            }
        },
        "/feedback": {
            "post": {
                "summary": "Ground truth for earlier predictions, by request id",
                "requestBody": _body(
                    {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Feedback"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/Feedback"}},
                        ]
                    }
                ),
                "responses": _answers(
                    _ref("Accepted"),
                    "401",
                    "403",
                    *body_errors,
                    "409",
                    "415",
                    description="accepted",
                ),
            }
        },
        "/health": {
            "get": {
                "summary": "The process is alive",
                "responses": {"200": {"description": "alive", "content": _json(_OBJECT)}},
            }
        },
        "/ready": {
            "get": {
                "summary": "A model version is ready to answer",
                "responses": {
                    "200": {"description": "ready", "content": {_JSON: _ref("Ready")}},
                    "503": {"description": "not ready yet", "content": {_JSON: _ref("Ready")}},
                },
            }
        },
        "/model": {
            "get": {
                "summary": "Name, version, inputs, rollout",
                "responses": _answers(_ref("Model"), *keyed_errors, "503"),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": _answers(text, ok_type="text/plain; version=0.0.4; charset=utf-8"),
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": _answers({"schema": {"type": "object"}}, *keyed_errors),
            }
        },
        "/docs": {
            "get": {
                "summary": "The interactive API page",
                "responses": _answers(text, *keyed_errors, ok_type="text/html; charset=utf-8"),
            }
        },
        "/admin/reload": {
            "post": {
                "summary": "Re-read the alias and rollout now (admin key)",
                "responses": _answers(_ref("Model"), *admin),
            }
        },
        "/admin/rollout": {
            "get": {
                "summary": "The active rollout (admin key)",
                "responses": _answers(_ref("RolloutState"), *admin),
            },
            "post": {
                "summary": "Start or end a shadow or canary (admin key)",
                "requestBody": _body({"$ref": "#/components/schemas/RolloutChange"}),
                "responses": _answers(_ref("RolloutState"), *admin, *body_errors),
            },
        },
    }
    paths.update(protocol_paths(keyed, profile))
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"forgeml: {model}", "version": version},
        "paths": paths,
        "components": {"schemas": _schemas(scorer, example)},
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url}]
    schemes: dict[str, Any] = {
        "AdminKey": {"type": "apiKey", "in": "header", "name": "X-Admin-Key"}
    }
    if keyed:
        schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
        scoring = [p for p in paths if p.endswith(("/infer", "/invocations"))]
        if profile is not None:
            scoring.append(profile.predict_route)
        for path in ("/predict", "/feedback", "/model", "/openapi.json", "/docs", *scoring):
            for operation in paths[path].values():
                operation["security"] = [{"ApiKey": []}]
    for operation in (*paths["/admin/reload"].values(), *paths["/admin/rollout"].values()):
        operation["security"] = [{"AdminKey": []}]
    document["components"]["securitySchemes"] = schemes
    return document


def _schemas(scorer: Scorer | None, example: dict[str, Any] | None) -> dict[str, Any]:
    record = _record_schema(scorer)
    if example is not None:
        record["examples"] = [example]
    rollout = {
        "anyOf": [
            {"type": "null"},
            {
                "type": "object",
                "properties": {
                    "mode": {"type": "string"},
                    "version": {"type": "integer"},
                    "share": {"type": "number"},
                    "key": {"type": ["string", "null"]},
                    "status": {"type": "string"},
                    "started_by": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        ]
    }
    return {
        "Record": record,
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
                "warnings": {"type": "array", "items": {"type": "object"}},
                "passthrough": {"type": "object"},
            },
            "required": ["request_id", "model", "version", "predictions"],
        },
        "Feedback": {
            "type": "object",
            "properties": {"request_id": {"type": "string"}, "label": {}},
            "required": ["request_id", "label"],
        },
        "Accepted": {
            "type": "object",
            "properties": {
                "accepted": {"type": "integer", "minimum": 0},
                "conflicts": {"type": "integer", "minimum": 0},
            },
            "required": ["accepted"],
        },
        "Ready": {
            "type": "object",
            "properties": {
                "ready": {"type": "boolean"},
                "reason": {"type": "string"},
                "model": {"type": "string"},
                "version": {"type": "integer"},
            },
            "required": ["ready"],
        },
        "Model": {
            "type": "object",
            "properties": {
                "model": {"type": "string"},
                "alias": {"type": "string"},
                "version": {"type": "integer"},
                "flavor": {"type": "string"},
                "task": {"type": "string"},
                "inputs": {"type": "array", "items": {"type": "object"}},
                "rollout": rollout,
            },
            "required": ["model", "version", "inputs"],
        },
        "RolloutChange": {
            "type": "object",
            "properties": {
                "mode": {"enum": ["shadow", "canary", "off"]},
                "version": {"type": "integer"},
                "share": {"type": "number"},
                "key": {"type": "string"},
                "reason": {"type": "string"},
                "outcome": {"type": "string"},
            },
            "required": ["mode"],
        },
        "RolloutState": {
            "type": "object",
            "properties": {"rollout": rollout},
            "required": ["rollout"],
        },
        "Error": _ERROR,
        **protocol_schemas(),
    }
