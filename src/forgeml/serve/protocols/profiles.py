"""Platform profiles: what SageMaker, Vertex AI and Azure ML expect of a serving container.

A :class:`Profile` says which port to bind, which routes the platform probes and posts to,
what the body of a prediction looks like there, the platform's payload limit (refused up
front with 413, naming the platform) and where the platform puts the model
(:attr:`Profile.model_dir`). :func:`resolve_profile` reads the platform's environment
variables, so the same image runs unchanged wherever the platform sets them.

=========  ======================  ===========================  =====================
profile    port                    health / predict             payload limit
=========  ======================  ===========================  =====================
sagemaker  8080                    GET /ping, POST /invocations 6 MB (real-time)
sagemaker-serverless  8080         GET /ping, POST /invocations 4 MB
vertex     $AIP_HTTP_PORT (8080)   $AIP_HEALTH_ROUTE,           1.5 MB
                                   $AIP_PREDICT_ROUTE
azureml    5001                    GET /, POST /score           none of its own
=========  ======================  ===========================  =====================

>>> vertex = resolve_profile("vertex", {"AIP_HTTP_PORT": "7080",
...     "AIP_HEALTH_ROUTE": "/v1/health", "AIP_PREDICT_ROUTE": "/v1/predict",
...     "AIP_STORAGE_URI": "gs://bucket/model"})
>>> vertex.port, vertex.health_route, vertex.predict_route, vertex.model_dir
(7080, '/v1/health', '/v1/predict', 'gs://bucket/model')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from forgeml.errors import ConfigError

__all__ = ["PROFILES", "Profile", "container_arguments", "resolve_profile"]

PredictFormat = Literal["mlflow", "vertex", "azureml"]
MB = 1_000_000


@dataclass(frozen=True)
class Profile:
    """One platform's contract for a serving container."""

    name: str
    platform: str
    """The platform's name, as errors show it."""
    port: int
    health_route: str
    """200 once a model is loaded and answering, 503 before."""
    predict_route: str
    predict_format: PredictFormat
    max_body_bytes: int | None
    """The platform's limit on a request body; None where the platform sets none."""
    model_dir: str | None
    """Where the platform puts the model (a folder, or a URI such as gs://...)."""
    host: str = "0.0.0.0"


PROFILES = ("sagemaker", "sagemaker-serverless", "vertex", "azureml")


def resolve_profile(name: str, environ: Mapping[str, str] | None = None) -> Profile:
    """The profile ``name`` with the platform's environment (``os.environ`` by default)."""
    env = os.environ if environ is None else environ
    if name in ("sagemaker", "sagemaker-serverless"):
        serverless = name == "sagemaker-serverless"
        return Profile(
            name=name,
            platform="SageMaker Serverless Inference" if serverless else "SageMaker",
            port=_port(env, "SAGEMAKER_BIND_TO_PORT", 8080),
            health_route="/ping",
            predict_route="/invocations",
            predict_format="mlflow",
            max_body_bytes=4 * MB if serverless else 6 * MB,
            model_dir=env.get("SM_MODEL_DIR") or "/opt/ml/model",
        )
    if name == "vertex":
        return Profile(
            name=name,
            platform="Vertex AI",
            port=_port(env, "AIP_HTTP_PORT", 8080),
            health_route=_route(env, "AIP_HEALTH_ROUTE", "/health"),
            predict_route=_route(env, "AIP_PREDICT_ROUTE", "/predict"),
            predict_format="vertex",
            max_body_bytes=1_500_000,
            model_dir=env.get("AIP_STORAGE_URI") or None,
        )
    if name == "azureml":
        return Profile(
            name=name,
            platform="Azure ML",
            port=_port(env, "AZUREML_INFERENCE_SERVER_PORT", 5001),
            health_route="/",
            predict_route="/score",
            predict_format="azureml",
            max_body_bytes=None,
            model_dir=env.get("AZUREML_MODEL_DIR") or None,
        )
    raise ConfigError(
        f"no serving profile is named '{name[:40]}'", fix="use " + ", ".join(PROFILES)
    )


def container_arguments(arguments: Sequence[str]) -> list[str]:
    """Arguments without the ``serve`` a platform passes to a container (SageMaker runs
    ``docker run IMAGE serve``); anything else is an error.

    >>> container_arguments(["serve"])
    []
    """
    extra = [a for a in arguments if a != "serve"]
    if extra:
        raise ConfigError(
            f"unexpected argument '{extra[0][:40]}'",
            fix="forgeml serve takes one model name; options start with --",
        )
    return []


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigError(f"{name} is not a port number", fix=f"set {name} to 1-65535")
    return int(raw)


def _route(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name) or default
    if not raw.startswith("/") or any(c in raw for c in "?# \t\r\n"):
        raise ConfigError(
            f"{name} is not a route path", fix=f"set {name} to a path such as {default}"
        )
    return raw
