"""Feedback requests: request ids and labels checked against the served model's classes."""

from __future__ import annotations

import math
from typing import Any

from forgeml.errors import InputRejected
from forgeml.serve.replies import REQUEST_ID
from forgeml.serve.scoring import Scorer

__all__ = ["MAX_FEEDBACK", "feedback_items"]

MAX_FEEDBACK = 10_000


def feedback_items(items: Any, scorer: Scorer | None) -> tuple[list[str], list[Any]]:
    if not isinstance(items, list) or not items:
        raise InputRejected(
            [{"field": "(payload)", "problem": 'expected {"request_id": ..., "label": ...}'}]
        )
    if len(items) > MAX_FEEDBACK:
        raise InputRejected(
            [{"field": "(payload)", "problem": f"more than {MAX_FEEDBACK} labels at once"}]
        )
    classes = scorer.classes if scorer is not None and scorer.task != "regression" else None
    ids, labels, problems = [], [], []
    for row, item in enumerate(items):
        request_id = item.get("request_id") if isinstance(item, dict) else None
        if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
            problems.append(
                {"field": "request_id", "row": row, "problem": "must be a request id string"}
            )
            continue
        if not isinstance(item, dict) or "label" not in item:
            problems.append({"field": "label", "row": row, "problem": "is missing"})
            continue
        label = item["label"]
        if classes is not None:
            if isinstance(label, list | dict) or label not in classes:
                problems.append(
                    {"field": "label", "row": row, "problem": f"must be one of {classes}"}
                )
                continue
            label = classes[classes.index(label)]
        elif not (
            isinstance(label, int | float) and not isinstance(label, bool) and math.isfinite(label)
        ):
            problems.append({"field": "label", "row": row, "problem": "must be a number"})
            continue
        ids.append(request_id)
        labels.append(label)
        if len(problems) >= 20:
            break
    if problems:
        raise InputRejected(problems[:20])
    return ids, labels
