"""The runs a list reads: every shown field, values Python's JSON writes but orjson does not
read (NaN, infinity), and a comparison's numeric and differing columns."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from forgeml.project import Project
from forgeml.store.models import RunRecord
from forgeml.training.tracking import start_run
from forgeml.ui import queries, views


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    return Project.init(tmp_path / "proj", name="lists")


def test_listed_runs_carry_their_fields_and_non_finite_metrics(project: Project) -> None:
    ids = []
    for i, loss in enumerate((0.5, math.nan, math.inf)):
        with start_run(experiment="e", project=project, params={"depth": i, "kind": "gbm"},
                       tags={"owner": "me"}) as run:  # fmt: skip
            run.log_metrics({"loss": loss})
            ids.append(run.id)
    with project.store.write() as session:  # as another writer may store them: NaN, Infinity
        for run_id, loss in zip(ids, (0.5, math.nan, math.inf), strict=True):
            session.get_one(RunRecord, run_id).metrics = {"loss": loss}
    with project.store.read() as session:
        page = queries.runs_page(session, limit=10)
        again = queries.runs_by_id(session, list(reversed(ids)))
    by_id = {r.id: r for r in page.runs}
    assert set(by_id) == set(ids) and [r.id for r in again] == list(reversed(ids))
    assert by_id[ids[0]].metrics["loss"] == 0.5
    assert math.isnan(by_id[ids[1]].metrics["loss"])
    assert by_id[ids[2]].metrics["loss"] == math.inf
    first = by_id[ids[0]]
    assert (first.experiment, first.status, first.params, first.tags) == (
        "e", "finished", {"depth": 0, "kind": "gbm"}, {"owner": "me"}
    )  # fmt: skip
    assert first.started_at.tzinfo is not None
    project.close()


def test_a_comparison_finds_numeric_and_differing_columns(project: Project) -> None:
    ids = []
    for i in range(3):
        with start_run(experiment="e", project=project,
                       params={"depth": i, "kind": "gbm", "flag": i == 1}) as run:  # fmt: skip
            run.log_metrics({"auc": 0.7 + i / 10})
            ids.append(run.id)
    template, context = views.compare(project, {"ids": ",".join(ids)})
    assert template == "compare.html"
    assert context["numeric"] == ["params.depth", "metrics.auc"]  # a boolean is no number
    assert [c for c, _ in context["table"]] == ["params.depth", "params.flag", "metrics.auc"]
    depth = dict(context["table"])["params.depth"]
    assert str(depth) == "<td>0</td><td>1</td><td>2</td>"
    project.close()
