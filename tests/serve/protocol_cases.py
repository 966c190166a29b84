"""Served models and requests shared by the protocol tests.

The Open Inference Protocol cases follow the shapes of the examples in the protocol's own
documentation (an ``id`` echoed back, a 2-D tensor with flat row-major data, nested data,
an ``outputs`` selection, the pandas codec's one-input-per-column request with per-input
``content_type`` parameters), restated for this suite's models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pytest

from forgeml.project import Project
from forgeml.registry import promote, register_model
from forgeml.serve.app import ModelServer, ServeOptions
from serve.serving import Client, credit_table, fit_bundle, live_server, record, register

NUMERIC = ["income", "age"]


def numeric_table(rows: int = 400, seed: int = 0) -> pa.Table:
    return credit_table(rows, seed=seed).drop_columns(["plan", "paperless", "opened"])


def register_numeric(project: Project, name: str = "numeric") -> None:
    bundle, signature = fit_bundle(numeric_table(), flavor="lightgbm")
    version = register_model(
        name, bundle, signature=signature, metrics={}, lineage={}, project=project
    )
    promote(version.ref, reason="test", project=project)


@contextmanager
def served_project(
    tmp_path_factory: pytest.TempPathFactory,
    model: str = "credit",
    *,
    options: ServeOptions | None = None,
) -> Iterator[tuple[Project, ModelServer, Client]]:
    """A fresh project with the credit model (and a numeric-only one), served live."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORGEML_DB_URL", raising=False)
        patch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
        project = Project.init(tmp_path_factory.mktemp("protocols") / "proj", name="test")
        try:
            register(project)
            register_numeric(project)
            with live_server(project, model, options=options) as (app, client):
                yield project, app, client
        finally:
            project.close()


def credit_rows(rows: int = 3, seed: int = 5) -> list[dict[str, Any]]:
    table = credit_table(rows=max(rows, 3), seed=seed)
    return [record(table, i) for i in range(rows)]


_DATATYPE = {"income": "FP64", "age": "INT64", "plan": "BYTES", "paperless": "BOOL"}


def pd_request(records: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """One input per column, as the pandas codec writes it."""
    inputs = []
    for name in records[0]:
        datatype = _DATATYPE.get(name, "BYTES")
        tensor: dict[str, Any] = {
            "name": name,
            "shape": [len(records)],
            "datatype": datatype,
            "data": [r[name] for r in records],
        }
        if datatype == "BYTES":
            tensor["parameters"] = {"content_type": "str"}
        inputs.append(tensor)
    return {"parameters": {"content_type": "pd"}, "inputs": inputs, **extra}
