"""JSON documents the registry stores: plain, portable JSON, or a clear error naming the field."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from forgeml.errors import ConfigError

__all__ = ["canonical_bytes", "finite_document", "json_document"]


def _plain(value: Any) -> Any:
    # numpy scalars and arrays turn up in fitted preprocessing and metrics; store them plainly.
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_document(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """``value`` as a JSON object (numpy values made plain); ConfigError if it is not JSON.

    >>> json_document({"auc": 0.91, "classes": (0, 1)}, "metrics")
    {'auc': 0.91, 'classes': [0, 1]}
    >>> json_document({"columns": {"age"}}, "extras")
    Traceback (most recent call last):
    ...
    forgeml.errors.ConfigError: extras cannot be stored as JSON: set is not JSON
      fix: pass a mapping of strings, numbers, booleans, None, lists and mappings (no NaN or infinity)
    """  # noqa: E501
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{what} must be a mapping, not a {type(value).__name__}",
            fix=f"pass {what} as a dict, e.g. {{}} when there is nothing to record",
        )
    try:
        loaded: dict[str, Any] = json.loads(
            json.dumps(dict(value), allow_nan=False, default=_plain)
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"{what} cannot be stored as JSON: {e}",
            fix="pass a mapping of strings, numbers, booleans, None, lists and mappings "
            "(no NaN or infinity)",
        ) from None
    return loaded


def finite_document(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Like :func:`json_document`, with NaN and infinity (at any depth) recorded as None.

    For measurements (metrics, gate results), where a NaN means "could not be computed".

    >>> finite_document({"auc": float("nan"), "slices": {"south": [float("inf")]}}, "metrics")
    {'auc': None, 'slices': {'south': [None]}}
    """
    return json_document(_finite(value) if isinstance(value, Mapping) else value, what)


def _finite(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, numbers.Real) and not math.isfinite(value):
        return None
    return value


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The one byte form of a JSON document, so equal documents get equal hashes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
