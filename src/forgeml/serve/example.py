"""A request example built from the training data: medians, most frequent categories.

The API page pre-fills "Try it out" with it, so the first request a user sends is a typical
one. With the training dataset's profile at hand, numbers take their median, categories and
booleans their most frequent value and timestamps the middle of their range; without it
(a model served from a bundle), the middle of the signature's range and its first category.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from forgeml.errors import ForgemlError
from forgeml.project import Project

__all__ = ["request_example", "training_profile"]

log = logging.getLogger("forgeml.serve")


def training_profile(project: Project, lineage: dict[str, Any]) -> dict[str, Any]:
    """The column profiles of the dataset a model was trained on; empty when unknown."""
    ref = lineage.get("dataset")
    if not isinstance(ref, str):
        return {}
    from forgeml.data.versions import dataset

    try:
        columns = dataset(ref, project=project).profile.get("columns", {})
    except ForgemlError as error:
        log.info("no profile for the API example: %s", str(error).splitlines()[0])
        return {}
    return columns if isinstance(columns, dict) else {}


def request_example(inputs: list[dict[str, Any]], profile: dict[str, Any]) -> dict[str, Any]:
    """One record a client may send: a typical value for each input."""
    return {
        str(column["name"]): _typical(column, profile.get(str(column["name"])) or {})
        for column in inputs
    }


def _typical(column: dict[str, Any], stats: dict[str, Any]) -> Any:
    kind = column.get("kind")
    if kind in ("integer", "float"):
        median = (stats.get("quantiles") or {}).get("0.5")
        if median is None:
            low, high = column.get("min"), column.get("max")
            median = (low + high) / 2 if low is not None and high is not None else 0
        return round(median) if kind == "integer" else median
    if kind == "boolean":
        return stats.get("true", 0) > stats.get("false", 0)
    if kind == "category":
        top = stats.get("top") or []
        if top:
            return top[0][0]
        categories = column.get("categories") or []
        return categories[0] if categories else "text"
    if kind == "timestamp":
        low, high = stats.get("min", column.get("min")), stats.get("max", column.get("max"))
        if isinstance(low, str) and isinstance(high, str):
            start, end = datetime.fromisoformat(low), datetime.fromisoformat(high)
            return (start + (end - start) / 2).isoformat()
        return "2025-01-31T12:00:00"
    return "text"
