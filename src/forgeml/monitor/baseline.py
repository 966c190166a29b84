"""The metric a model's live performance is judged against for decay.

A random split's test metric is measured on rows from the same period as the training
rows; on data whose patterns change with the season, live predictions always look worse
than that, and a decay check would fire every month. So the baseline is, first, the
version's metric on held-out rows *later* than its training rows, when one was measured:
the recent rows a retraining cycle judged it on, or the test rows of a time-ordered split.
Only without either does it fall back to the test metric.
"""

from __future__ import annotations

import math
from typing import Any

from forgeml.project import Project
from forgeml.registry.versions import ModelVersion
from forgeml.store import cycles

__all__ = ["decay_baseline"]


def decay_baseline(project: Project, version: ModelVersion, metric: str) -> float | None:
    """``version``'s ``metric`` on a time-ordered holdout when known, else on its test rows."""
    with project.store.read() as session:
        recent = cycles.judged_on_recent_rows(session, version.name, version.version)
    if recent is not None and _number(recent.get(metric)) is not None:
        return _number(recent.get(metric))
    return _number(version.metrics.get("test", {}).get(metric))


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
