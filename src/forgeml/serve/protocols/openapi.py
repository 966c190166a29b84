"""The OpenAPI paths and schemas of the protocol routes (merged into the server's document
by :func:`forgeml.serve.openapi.openapi_document`)."""

from __future__ import annotations

from typing import Any

from forgeml.serve.protocols.profiles import Profile

__all__ = ["protocol_paths", "protocol_schemas"]

_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"
_DESCRIPTIONS = {
    "400": "the body breaks the protocol or the model's signature",
    "401": "missing or wrong key",
    "404": "no such model, version or route",
    "408": "the request was not sent within the server's body or header timeout",
    "413": "body or row count over the limit (the platform's, under a profile)",
    "415": "a content type the route does not take",
    "422": "the input breaks the model's signature",
    "429": "over the rate limit: retry after Retry-After seconds",
    "500": "internal error (the server's log says more)",
    "503": "no model version is loaded yet",
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answers(
    ok: dict[str, Any], codes: tuple[str, ...], *, error: str = "Error", ok_type: str = _JSON
) -> dict[str, Any]:
    answers: dict[str, Any] = {"200": {"description": "OK", "content": {ok_type: ok}}}
    for code in (*codes, "429", "500"):
        answers[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {_JSON: {"schema": _ref(error)}},
        }
    answers["429"]["headers"] = {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
    }
    return answers


def _probe(ok: dict[str, Any], ok_type: str = _JSON) -> dict[str, Any]:
    return {
        "200": {"description": "ready", "content": {ok_type: ok}},
        "503": {"description": "not ready yet", "content": {_JSON: {"schema": _ref("Ready")}}},
    }


def _name(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]


def protocol_paths(keyed: bool, profile: Profile | None) -> dict[str, Any]:
    """The paths of the OIP, MLflow and profile routes."""
    key = ("401",) if keyed else ()
    body = ("400", "408", "413")
    text = {"schema": {"type": "string"}}
    invocations_body = {
        "required": True,
        "content": {_JSON: {"schema": _ref("Invocation")}, "text/csv": text},
    }
    infer_body = {"required": True, "content": {_JSON: {"schema": _ref("InferenceRequest")}}}
    paths: dict[str, Any] = {
        "/invocations": {
            "post": {
                "summary": "MLflow's scoring protocol: JSON (dataframe_split, dataframe_records, "
                "instances, inputs) or CSV",
                "requestBody": invocations_body,
                "responses": _answers(
                    {"schema": _ref("MlflowPredictions")},
                    (*key, *body, "415", "503"),
                    error="AnyError",
                ),
            }
        },
        "/ping": {
            "get": {"summary": "200 once a model version answers", "responses": _probe(text, _TEXT)}
        },
        "/version": {
            "get": {
                "summary": "forgeml's version",
                "responses": {"200": {"description": "OK", "content": {_TEXT: text}}},
            }
        },
        "/v2": {
            "get": {
                "summary": "Open Inference Protocol: server metadata",
                "responses": _answers({"schema": _ref("ServerMetadata")}, ()),
            }
        },
        "/v2/health/live": {
            "get": {
                "summary": "Open Inference Protocol: the server is live",
                "responses": {
                    "200": {"description": "live", "content": {_JSON: {"schema": _ref("Live")}}}
                },
            }
        },
        "/v2/health/ready": {
            "get": {
                "summary": "Open Inference Protocol: the server is ready",
                "responses": _probe({"schema": _ref("Ready")}),
            }
        },
    }
    for prefix, names in (
        ("/v2/models/{model_name}", ("model_name",)),
        ("/v2/models/{model_name}/versions/{model_version}", ("model_name", "model_version")),
    ):
        parameters = _name(*names)
        paths[prefix] = {
            "get": {
                "summary": "Open Inference Protocol: model metadata",
                "parameters": parameters,
                "responses": _answers({"schema": _ref("ModelMetadata")}, ("404", "503")),
            }
        }
        paths[f"{prefix}/ready"] = {
            "get": {
                "summary": "Open Inference Protocol: the model is ready",
                "parameters": parameters,
                "responses": {
                    **_probe({"schema": _ref("ModelReady")}),
                    **{
                        k: v
                        for k, v in _answers({}, ("404",)).items()
                        if k in ("404", "429", "500")
                    },
                },
            }
        }
        paths[f"{prefix}/infer"] = {
            "post": {
                "summary": "Open Inference Protocol: inference (one input per column, or one "
                "[rows, K] tensor)",
                "parameters": parameters,
                "requestBody": infer_body,
                "responses": _answers(
                    {"schema": _ref("InferenceResponse")}, (*key, *body, "404", "503")
                ),
            }
        }
    if profile is not None:
        health_type = _TEXT
        paths[profile.health_route] = {
            "get": {
                "summary": f"{profile.platform}: 200 once a model version answers",
                "responses": _probe(text, health_type),
            }
        }
        if profile.predict_format == "mlflow":
            paths[profile.predict_route] = paths["/invocations"]
        else:
            request = "VertexRequest" if profile.predict_format == "vertex" else "AzureRequest"
            reply = "MlflowPredictions" if profile.predict_format == "vertex" else "AzureReply"
            paths[profile.predict_route] = {
                "post": {
                    "summary": f"{profile.platform}: predict",
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": _ref(request)}},
                    },
                    "responses": _answers({"schema": _ref(reply)}, (*key, *body, "422", "503")),
                }
            }
    return paths


_TENSOR = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string"},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
    "required": ["name", "shape", "datatype", "data"],
}


def protocol_schemas() -> dict[str, Any]:
    """The schemas :func:`protocol_paths` refers to (``Error`` and ``Ready`` are the server's)."""
    metadata_tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["name", "datatype", "shape"],
    }
    mlflow_error = {
        "type": "object",
        "properties": {
            "error_code": {"type": "string"},
            "message": {"type": "string"},
            "problems": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["error_code", "message"],
    }
    return {
        "MlflowError": mlflow_error,
        "AnyError": {"anyOf": [_ref("Error"), _ref("MlflowError")]},
        "Invocation": {
            "type": "object",
            "properties": {
                "dataframe_split": {
                    "type": "object",
                    "properties": {
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "index": {"type": "array"},
                        "data": {"type": "array", "items": {"type": "array"}},
                    },
                    "required": ["data"],
                },
                "dataframe_records": {"type": "array", "items": {"type": "object"}},
                "instances": {},
                "inputs": {},
                "params": {"type": "object"},
            },
        },
        "MlflowPredictions": {
            "type": "object",
            "properties": {"predictions": {"type": "array"}},
            "required": ["predictions"],
        },
        "ServerMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "version", "extensions"],
        },
        "Live": {
            "type": "object",
            "properties": {"live": {"type": "boolean"}},
            "required": ["live"],
        },
        "ModelReady": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
            "required": ["ready"],
        },
        "ModelMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": metadata_tensor},
                "outputs": {"type": "array", "items": metadata_tensor},
            },
            "required": ["name", "platform", "inputs", "outputs"],
        },
        "InferenceRequest": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": _TENSOR},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    },
                },
            },
            "required": ["inputs"],
        },
        "InferenceResponse": {
            "type": "object",
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "outputs": {"type": "array", "items": _TENSOR},
            },
            "required": ["model_name", "outputs"],
        },
        "VertexRequest": {
            "type": "object",
            "properties": {"instances": {"type": "array"}, "parameters": {"type": "object"}},
            "required": ["instances"],
        },
        "AzureRequest": {
            "type": "object",
            "properties": {"input_data": {}},
            "required": ["input_data"],
        },
        "AzureReply": {"type": "array"},
    }
