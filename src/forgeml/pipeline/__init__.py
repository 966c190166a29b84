"""Pipelines: a DAG of steps whose results are cached by their inputs.

Declared in ``forgeml.yaml`` under ``pipelines:`` or in Python; run locally, on Ray, or
compiled for Airflow, Kubeflow Pipelines and Argo Workflows (``forgeml pipeline compile``).
"""

from forgeml.pipeline.context import StepContext, StepFailed
from forgeml.pipeline.dag import Pipeline, Step, load_pipeline, pipeline_names
from forgeml.pipeline.runner import PipelineRun, StepRun, run_pipeline

__all__ = [
    "Pipeline",
    "PipelineRun",
    "Step",
    "StepContext",
    "StepFailed",
    "StepRun",
    "load_pipeline",
    "pipeline_names",
    "run_pipeline",
]
