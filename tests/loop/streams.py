"""What the loop's tests share: streams of rows, served at their time with labels that come late.

A test module builds one project (its ``template`` fixture, with :func:`build_template`);
each test gets a copy of it (``project`` and ``copy_project`` in ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from forgeml.data.ingest import ingest
from forgeml.project import Project
from forgeml.registry import load_model
from forgeml.serve.predlog import PredictionLog
from forgeml.training.predict import Predictor
from forgeml.training.trainer import train

CopyProject = Callable[..., Project]  # the ``copy_project`` fixture


def stream(
    start: datetime, days: int, rows: int, *, weights: tuple[float, float], seed: int
) -> pa.Table:
    """``rows`` rows over ``days`` from ``start``: ``y`` is ``weights · (x1, x2)`` + noise > 0."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = weights[0] * x1 + weights[1] * x2 + 0.3 * rng.normal(size=rows) > 0
    offsets = np.sort(rng.uniform(0, days * 86400, size=rows))
    at = [start + timedelta(seconds=float(s)) for s in offsets]
    return pa.table({"x1": x1, "x2": x2, "at": pa.array(at, pa.timestamp("us", "UTC")), "y": y})


def serve_rows(
    project: Project,
    ref: str,
    rows: pa.Table,
    *,
    target: str = "y",
    time: str = "at",
    late: timedelta = timedelta(days=7),
    prefix: str = "r",
    arm: str = "champion",
) -> None:
    """Serve ``rows`` with model version ``ref``, each at its ``time``; labels come ``late``.

    Request ids are ``prefix`` + the row's number: give each batch of a test its own prefix.
    """
    version, bundle = load_model(ref, project=project)
    scores = Predictor(bundle).scores(rows)
    inputs = [str(c["name"]) for c in version.signature["inputs"]]
    times = [_utc(t).timestamp() for t in rows.column(time).to_pylist()]
    truth = rows.column(target).to_pylist()
    with PredictionLog(project, version.name, version.signature["inputs"]) as log:
        for i in range(rows.num_rows):
            rid = f"{prefix}{i}"
            log.log_predictions(
                ids=[rid],
                version=version.version,
                arm=arm,
                inputs={n: [rows.column(n)[i].as_py()] for n in inputs},
                scores=scores[i : i + 1],
                labels=[bool(scores[i] >= 0.5)],
                latency_ms=1.0,
                time=times[i],
            )
            log.log_feedback([rid], [truth[i]], time=times[i] + late.total_seconds())


def build_template(
    root: Path, spec: str, name: str, history: pa.Table, serve: Callable[[Project], None]
) -> Path:
    """A project at ``root`` whose champion ``name`` learnt from ``history``, then served."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "forgeml.yaml").write_text(spec)
    project = Project.init(root)
    try:
        version = ingest(history, name=name, project=project).version
        assert train(dataset_ref=version.ref, project=project).model is not None
        serve(project)
    finally:
        project.close()
    return root


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
