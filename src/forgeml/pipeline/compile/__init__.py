"""Compile a pipeline for an orchestrator: an Airflow DAG file, a Kubeflow Pipelines v2
YAML or an Argo Workflow, generated as text (neither Airflow nor kfp is imported).

Every task runs ``forgeml pipeline step PIPELINE STEP``: the step reads its upstream
results from the shared metadata store and artifact store (PostgreSQL and object storage
in a cluster), and a retried task reuses a stored result.
"""

from __future__ import annotations

import os
from pathlib import Path

from forgeml.errors import ConfigError
from forgeml.pipeline.compile.airflow import airflow_dag
from forgeml.pipeline.compile.argo import argo_workflow
from forgeml.pipeline.compile.kfp import kfp_pipeline
from forgeml.pipeline.dag import Pipeline, load_pipeline
from forgeml.project import ProjectLike, resolve_project

__all__ = [
    "DEFAULT_IMAGE",
    "TARGETS",
    "airflow_dag",
    "argo_workflow",
    "compile_pipeline",
    "kfp_pipeline",
    "step_command",
]

DEFAULT_IMAGE = "forgeml:latest"
TARGETS = ("airflow", "kfp", "argo")


def step_command(pipeline: str, step: str) -> list[str]:
    """The command a container runs for one step."""
    return ["forgeml", "pipeline", "step", pipeline, step]


def compile_pipeline(
    pipeline: str | Pipeline,
    *,
    target: str,
    output: str | os.PathLike[str],
    image: str | None = None,
    project: ProjectLike = None,
) -> Path:
    """Write ``pipeline`` for ``target`` (``airflow``, ``kfp`` or ``argo``) to ``output``."""
    if target not in TARGETS:
        raise ConfigError(
            f"--target {target!r} is not an orchestrator forgeml compiles for",
            fix="use one of: " + ", ".join(TARGETS),
        )
    found = resolve_project(project)
    dag = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline, found.spec)
    chosen = image or dag.image or DEFAULT_IMAGE
    if target == "airflow":
        text = airflow_dag(dag, found.root)
    elif target == "kfp":
        text = kfp_pipeline(dag, chosen)
    else:
        text = argo_workflow(dag, chosen)
    path = Path(output)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder", fix="give the file to write, e.g. pipeline.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
