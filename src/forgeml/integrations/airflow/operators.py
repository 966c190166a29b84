"""Operators for each forgeml command; each opens its project through :class:`ForgemlHook`
and returns JSON values (Airflow pushes them to XCom)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from forgeml.integrations.airflow.hooks import ForgemlHook
from forgeml.project import Project

__all__ = [
    "ForgemlGateOperator",
    "ForgemlIngestOperator",
    "ForgemlMonitorOperator",
    "ForgemlPipelineStepOperator",
    "ForgemlPredictOperator",
    "ForgemlPromoteOperator",
    "ForgemlRetrainOperator",
    "ForgemlTrainOperator",
]


class _ForgemlOperator(BaseOperator):  # type: ignore[misc]
    def __init__(
        self,
        *,
        forgeml_conn_id: str | None = "forgeml_default",
        project: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.forgeml_conn_id = forgeml_conn_id
        self.project = project

    def open_project(self) -> Project:
        conn_id = self.forgeml_conn_id
        if conn_id is not None and not _connection_exists(conn_id):
            conn_id = None  # no connection: FORGEML_PROJECT, the folder, and the spec's stores
        return ForgemlHook(conn_id).get_project(self.project)


def _connection_exists(conn_id: str) -> bool:
    try:
        ForgemlHook.get_connection(conn_id)
    except Exception:  # Airflow raises its own not-found error (its class moved in Airflow 3)
        return False
    return True


class ForgemlIngestOperator(_ForgemlOperator):
    """Store ``source`` (a file or a SQL URL with ``query``) as a version of ``dataset``."""

    template_fields: Sequence[str] = ("source", "dataset", "query")

    def __init__(self, *, source: str, dataset: str, query: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.source, self.dataset, self.query = source, dataset, query

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.data.ingest import ingest

        with self.open_project() as project:
            result = ingest(self.source, name=self.dataset, project=project, query=self.query)
            version = result.version
            return {"dataset": version.ref, "rows": version.rows, "created": result.created}


class ForgemlTrainOperator(_ForgemlOperator):
    """Train on ``dataset`` (default: train.dataset); register and promote when it passes."""

    template_fields: Sequence[str] = ("dataset",)

    def __init__(
        self,
        *,
        dataset: str | None = None,
        target: str | None = None,
        trials: int | None = None,
        register: bool = True,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.dataset, self.target, self.trials, self.register = dataset, target, trials, register

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.training.trainer import train

        with self.open_project() as project:
            result = train(
                dataset_ref=self.dataset,
                project=project,
                target=self.target,
                trials=self.trials,
                register=self.register,
            )
        return {
            "run_id": result.run_id,
            "model": result.model.ref if result.model is not None else None,
            "gate_passed": result.gate.passed,
            "metric": result.metric,
            "score": result.test.get(result.metric),
        }


class ForgemlGateOperator(_ForgemlOperator):
    """Check ``model`` (``NAME@VERSION`` or ``NAME@ALIAS``) against the gate; the task fails
    (without retries) when the gate fails. The metrics go to XCom under ``metrics``."""

    template_fields: Sequence[str] = ("model",)

    def __init__(self, *, model: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.model = model

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.registry.documents import finite_document
        from forgeml.training.gate_version import gate

        with self.open_project() as project:
            report = gate(self.model, project=project)
        metrics = finite_document(report.metrics, "metrics")
        instance = context.get("ti") if hasattr(context, "get") else None
        if instance is not None:
            instance.xcom_push(key="metrics", value=metrics)
        if not report.result.passed:
            failed = ", ".join(c.name for c in report.result.failed)
            raise AirflowFailException(f"{report.version.ref} failed its gate: {failed}")
        return {"model": report.version.ref, "passed": True, "metrics": metrics}


class ForgemlPromoteOperator(_ForgemlOperator):
    """Point ``alias`` at ``model``; the move is audited with ``reason``."""

    template_fields: Sequence[str] = ("model", "reason")

    def __init__(self, *, model: str, reason: str, alias: str = "champion", **kw: Any) -> None:
        super().__init__(**kw)
        self.model, self.reason, self.alias = model, reason, alias

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.registry.aliases import promote
        from forgeml.registry.versions import model_version

        with self.open_project() as project:
            version = model_version(self.model, project=project)
            promote(
                version.ref, alias=self.alias, reason=self.reason, actor="airflow", project=project
            )
        return {"model": version.ref, "alias": self.alias}


class ForgemlPredictOperator(_ForgemlOperator):
    """Score every row of ``input_path`` into ``output_path`` with ``model``."""

    template_fields: Sequence[str] = ("model", "input_path", "output_path")

    def __init__(self, *, model: str, input_path: str, output_path: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.model, self.input_path, self.output_path = model, input_path, output_path

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.serve.batch import predict_file

        with self.open_project() as project:
            result = predict_file(self.model, self.input_path, self.output_path, project=project)
        return {"model": result.model, "rows": result.rows, "output": str(result.output)}


class ForgemlMonitorOperator(_ForgemlOperator):
    """Drift, quality and performance of ``model``'s champion over the last ``window``."""

    template_fields: Sequence[str] = ("model",)

    def __init__(self, *, model: str, window: str = "1d", **kw: Any) -> None:
        super().__init__(**kw)
        self.model, self.window = model, window

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.config import parse_duration
        from forgeml.monitor.run import monitor

        with self.open_project() as project:
            report = monitor(self.model, project=project, window=parse_duration(self.window))
        return {
            "model": report.version.ref,
            "drifted": report.drifted,
            "decayed": report.decayed,
            "alerts": len(report.alerts),
        }


class ForgemlRetrainOperator(_ForgemlOperator):
    """One retraining cycle of ``model`` (as ``forgeml retrain``)."""

    template_fields: Sequence[str] = ("model",)

    def __init__(self, *, model: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.model = model

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.loop.cycle import retrain

        with self.open_project() as project:
            cycle = retrain(self.model, project=project)
        return {"cycle": cycle.key, "status": cycle.status, "stage": cycle.stage}


class ForgemlPipelineStepOperator(_ForgemlOperator):
    """Run one step of a forgeml pipeline on its upstream results (what compiled DAGs use)."""

    def __init__(self, *, pipeline: str, step: str, **kw: Any) -> None:
        kw.setdefault("task_id", step)
        super().__init__(**kw)
        self.pipeline, self.step = pipeline, step

    def execute(self, context: Any) -> dict[str, Any]:
        from forgeml.pipeline import run_pipeline

        with self.open_project() as project:
            run = run_pipeline(self.pipeline, project=project, only=self.step)
        result = run.step(self.step)
        if result.status == "failed":
            raise AirflowFailException(f"forgeml step {self.step!r} failed: {result.error}")
        return dict(result.outputs or {})
