"""forgeml export, forgeml build docker, forgeml k8s."""

from __future__ import annotations

from pathlib import Path

import typer

from forgeml.cli.commands import make_typer
from forgeml.cli.context import state
from forgeml.cli.output import console

__all__ = ["build_app", "export_command", "import_app", "k8s_command"]

FORMATS = ("dir", "mlflow", "sagemaker", "vertex", "azureml", "onnx")

build_app = make_typer(
    help="Build a deployable artifact: a Docker build context.", no_args_is_help=True
)

import_app = make_typer(
    help="Register a model saved by another tool: an MLflow model folder.", no_args_is_help=True
)


@build_app.callback()
def build_group() -> None:
    """Build a deployable artifact: a Docker build context."""


def export_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The model version, e.g. credit@3 or credit@champion."),
    out: str = typer.Argument(..., help="New (or empty) folder to write; the file for onnx."),
    format: str = typer.Option(
        "dir", "--format", "-f", help="dir, mlflow, sagemaker, vertex, azureml or onnx."
    ),
    image: str | None = typer.Option(
        None, "--image", help="The serving image (vertex, azureml); default NAME:VERSION."
    ),
) -> None:
    """Export a model version: a model directory, an MLflow model, a cloud bundle, or ONNX."""
    if format not in FORMATS:
        raise typer.BadParameter(f"use one of: {', '.join(FORMATS)}", param_hint="--format")
    project = state(ctx).project()
    if format == "onnx":
        from forgeml.onnx_export import export_onnx

        result = export_onnx(ref, Path(out), project=project)
        console.print(
            f"wrote {result.path} ({result.size} bytes); max abs difference from "
            f"{result.ref} on {result.rows} rows: {result.max_abs_diff:.2e}"
        )
    elif format == "dir":
        from forgeml.deploy.modeldir import write_model_dir

        found = write_model_dir(ref, out, project=project)
        console.print(
            f"wrote {found.ref} to {found.path}; serve it with "
            f"'forgeml serve --model-dir {found.path}'"
        )
    elif format == "mlflow":
        from forgeml.deploy.mlflow_export import export_mlflow

        path = export_mlflow(ref, out, project=project)
        console.print(
            f"wrote an MLflow model to {path}; load it with mlflow.pyfunc.load_model('{path}')"
        )
    else:
        from forgeml.deploy.cloud import export_cloud

        path = export_cloud(ref, out, format, image=image, project=project)
        console.print(f"wrote the {format} bundle to {path}")


@build_app.command("docker")
def build_docker(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The model version, e.g. credit@3."),
    out: str = typer.Argument(..., help="New (or empty) folder for the build context."),
    base_image: str = typer.Option(
        "python:3.11-slim", "--base-image", help="The image both build stages start from."
    ),
    profile: str = typer.Option(
        "default", "--profile", help="default, sagemaker (runs as root), vertex or azureml."
    ),
) -> None:
    """Write a Docker build context: multi-stage Dockerfile, lock file and the model."""
    from forgeml.deploy.docker import build_context

    context = build_context(
        ref, out, base_image=base_image, profile=profile, project=state(ctx).project()
    )
    console.print(
        f"wrote the build context for {context.model.ref} to {context.path} "
        f"({context.size() / 1024:.0f} kB, {len(context.lock)} locked packages); "
        f"build it with 'docker build -t IMAGE {context.path}'"
    )


def k8s_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The model version, e.g. credit@3."),
    output: str = typer.Option(..., "--output", "-o", help="Folder for the manifests."),
    kserve: bool = typer.Option(False, "--kserve", help="A KServe InferenceService instead."),
    image: str | None = typer.Option(None, "--image", help="The image (default NAME:VERSION)."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="The namespace."),
    replicas: int = typer.Option(2, "--replicas", min=1, help="Pods at first."),
    min_replicas: int = typer.Option(2, "--min-replicas", min=1, help="Autoscaler minimum."),
    max_replicas: int = typer.Option(10, "--max-replicas", min=1, help="Autoscaler maximum."),
    cpu: str = typer.Option("500m", "--cpu", help="CPU request per pod."),
    memory: str = typer.Option("512Mi", "--memory", help="Memory request per pod."),
) -> None:
    """Write Kubernetes manifests (Deployment, Service, HPA, PDB) or a KServe service."""
    from forgeml.deploy.k8s import K8sOptions, write_manifests

    options = K8sOptions(
        image=image,
        namespace=namespace,
        replicas=replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu_request=cpu,
        memory_request=memory,
    )
    written = write_manifests(
        ref, output, kserve=kserve, options=options, project=state(ctx).project()
    )
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"apply them with 'kubectl apply -f {output}'")


@import_app.callback()
def import_group() -> None:
    """Register a model saved by another tool: an MLflow model folder."""


@import_app.command("mlflow")
def import_mlflow_command(
    ctx: typer.Context,
    folder: str = typer.Argument(..., help="The MLflow model folder (it holds MLmodel)."),
    name: str = typer.Option(..., "--name", "-n", help="The model to register it under."),
    task: str | None = typer.Option(
        None, "--task", help="binary, multiclass or regression (default: read from the model)."
    ),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Read a pickle or cloudpickle file (it can run code); needs --trust-reason.",
    ),
    trust_reason: str | None = typer.Option(
        None, "--trust-reason", help="With --trust-pickle: why (kept in the audit trail)."
    ),
) -> None:
    """Register an MLflow model as a new model version (sklearn, lightgbm, xgboost, onnx)."""
    from forgeml.deploy.mlflow_import import import_mlflow

    if task is not None and task not in ("binary", "multiclass", "regression"):
        raise typer.BadParameter("use binary, multiclass or regression", param_hint="--task")
    if trust_reason is not None and not trust_pickle:
        raise typer.BadParameter("only with --trust-pickle", param_hint="--trust-reason")
    version = import_mlflow(
        folder,
        name,
        task=task,
        trust_pickle=trust_pickle,
        trust_reason=trust_reason,
        project=state(ctx).project(),
    )
    trusted = version.lineage.get("trusted_pickle")
    read = f" (a pickle, read on your trust: see 'forgeml history {name}')" if trusted else ""
    console.print(f"[bold]{version.ref}[/] registered from {folder}{read}")
