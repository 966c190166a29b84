"""Feedback requests: request ids and labels checked against the served model's classes.

:class:`LabelBook` remembers the first label a server received per request id, so that
the reply to ``POST /feedback`` can say how many labels conflict with an earlier one.

>>> book = LabelBook()
>>> book.conflicts(["r1", "r2"], [True, False]), book.conflicts(["r1", "r2"], [False, False])
(0, 1)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from forgeml.errors import InputRejected
from forgeml.serve.replies import REQUEST_ID
from forgeml.serve.scoring import Scorer

__all__ = ["MAX_FEEDBACK", "LabelBook", "feedback_items"]

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
    if problems:
        raise InputRejected(problems)
    return ids, labels


class LabelBook:
    """The first label received per request id, for the last ``capacity`` request ids."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._first: OrderedDict[str, Any] = OrderedDict()

    def conflicts(self, ids: Sequence[str], labels: Sequence[Any]) -> int:
        """Record ``labels``; returns how many differ from the first label of their id."""
        found = 0
        for request_id, label in zip(ids, labels, strict=True):
            first = self._first.get(request_id, _UNSET)
            if first is _UNSET:
                self._first[request_id] = label
                if len(self._first) > self.capacity:
                    self._first.popitem(last=False)
            elif first != label:
                found += 1
        return found


_UNSET = object()
