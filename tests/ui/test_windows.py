"""Monitoring keeps each window's findings in the store; monitoring a window again replaces it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from forgeml.monitor.run import monitor
from forgeml.project import Project
from forgeml.store import windows
from ui.small_project import START

Built = tuple[Project, dict[str, Any]]


def test_windows_are_kept_once_each_with_their_findings(built: Built) -> None:
    project, _ = built
    with project.store.read() as session:
        before = windows.latest(session, "credit")
    assert [w.window_start for w in before] == [START + timedelta(days=d) for d in range(3)]
    calm, _, shifted = before
    assert not calm.drifted and shifted.drifted and shifted.features["income"]["drifted"]
    assert shifted.metric == "roc_auc" and shifted.labels == 300
    assert shifted.metric_value is not None and calm.metric_value is not None
    assert shifted.metric_value < calm.metric_value
    monitor("credit", project=project, start=START, end=START + timedelta(days=3), max_drop=0.1)
    monitor("credit", project=project, start=START + timedelta(days=2),
            end=START + timedelta(days=3), alert=False, record=False)  # fmt: skip
    with project.store.read() as session:
        after = windows.latest(session, "credit")
        newest = windows.latest(session, "credit", limit=1)
        older = windows.latest(session, "credit", before=START + timedelta(days=2))
    assert len(after) == 3 and [w.id for w in after] != [w.id for w in before]
    assert newest[0].window_start == START + timedelta(days=2)
    assert [w.window_start for w in older] == [START, START + timedelta(days=1)]
