"""Building answers: JSON replies and errors, the predict body, keys, model and rollout views."""

from __future__ import annotations

import hmac
import os
import re
import time
from typing import Any

import orjson

from forgeml.serve.deployment import Deployment, Serving
from forgeml.serve.http import Scope, Send, header, send_json
from forgeml.serve.scoring import Scored, Scorer

__all__ = [
    "KEY_FIX",
    "ORIGIN_FIX",
    "REQUEST_ID",
    "describe",
    "has_key",
    "json_fix",
    "new_request_id",
    "refuse",
    "reply",
    "response",
    "rollout_dict",
    "routing_key",
]

REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
KEY_FIX = "send the key in the X-API-Key header (or Authorization: Bearer KEY)"
ORIGIN_FIX = "list the site's origin under serve.feedback_origins in forgeml.yaml"


def new_request_id() -> str:
    """A fresh request id: the time in milliseconds, then 64 random bits (both hex).

    Ids sort by the time they were made, and nobody can guess another client's id (a label
    sent to ``/feedback`` needs the id of the prediction it labels).

    >>> first, second = new_request_id(), new_request_id()
    >>> len(first), first != second, first[:11] <= second[:11]
    (28, True, True)
    """
    return f"{time.time_ns() // 1_000_000:011x}-{os.urandom(8).hex()}"


def has_key(scope: Scope, key: str) -> bool:
    given = header(scope, b"x-api-key")
    if given is None:
        auth = header(scope, b"authorization") or b""
        given = auth[7:] if auth[:7].lower() == b"bearer " else None
    return given is not None and hmac.compare_digest(given, key.encode())


async def reply(
    send: Send, status: int, document: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> int:
    await send_json(send, status, document, headers)
    return status


async def refuse(send: Send, status: int, message: str, fix: str) -> int:
    return await reply(send, status, {"error": message, "fix": fix})


def json_fix(error: orjson.JSONDecodeError) -> str:
    where = f" (line {error.lineno}, column {error.colno})" if error.lineno else ""
    return f"send a valid JSON document{where}; NaN and Infinity are not JSON"


def response(
    scorer: Scorer,
    scored: Scored,
    request_id: str,
    ids: list[str],
    warnings: list[dict[str, Any]],
    passthrough: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"request_id": request_id, "model": scorer.model}
    body["version"] = scorer.number
    if scored.labels is None:
        body["predictions"] = scored.scores
    else:
        body["predictions"] = scored.labels
        if scored.probabilities is None:
            body["scores"] = scored.scores
        else:
            body["probabilities"] = scored.probabilities
    if passthrough:
        body["passthrough"] = passthrough
    if len(ids) > 1:
        body["ids"] = ids
    if warnings:
        body["warnings"] = warnings
    return body


def routing_key(scope: Scope, payload: Any, key: str | None) -> str | None:
    given = header(scope, b"x-routing-key")
    if given is not None:
        return given.decode("latin-1")
    if key is None:
        return None
    record = payload[0] if isinstance(payload, list) and payload else payload
    if isinstance(record, dict):
        if "columns" in record and isinstance(record["columns"], dict):
            values = record["columns"].get(key)
            return str(values[0]) if isinstance(values, list) and values else None
        if key in record:
            return str(record[key])
    return None


def describe(deployment: Deployment, serving: Serving) -> dict[str, Any]:
    champion = serving.champion
    version = champion.version
    return {
        "model": champion.model,
        "alias": deployment.alias,
        "version": champion.number,
        "flavor": version.flavor,
        "task": champion.task,
        "classes": champion.classes,
        "inputs": champion.schema.inputs,
        "dataset": version.signature.get("dataset"),
        "registered_at": version.created_at.isoformat(),
        "loaded_at": serving.loaded_at,
        "rollout": rollout_dict(serving.rollout),
    }


def rollout_dict(rollout: Any) -> dict[str, Any] | None:
    if rollout is None:
        return None
    return {
        "mode": rollout.mode,
        "version": rollout.version,
        "share": rollout.share,
        "key": rollout.key,
        "status": rollout.status,
        "started_by": rollout.started_by,
        "reason": rollout.reason,
    }
