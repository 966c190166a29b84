"""Run pipeline steps as Ray tasks (``executor: ray``): the driver keeps the cache and the
records, a worker runs the step's function in the project folder it shares."""

from __future__ import annotations

from typing import Any

from forgeml.errors import MissingDependency
from forgeml.pipeline.context import StepContext
from forgeml.pipeline.functions import StepKind

__all__ = ["ray_execute"]


def ray_execute(kind: StepKind, ctx: StepContext) -> Any:
    """Run ``kind`` for ``ctx`` in a Ray task; its outputs (or its error) come back."""
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray", "ray", "executor: ray") from None
    if not ray.is_initialized():
        ray.init(address="auto", include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(_run_in_worker)
    return ray.get(
        remote.remote(
            kind.target,
            str(ctx.project.root),
            ctx.pipeline,
            ctx.step,
            dict(ctx.params),
            {k: dict(v) for k, v in ctx.upstream.items()},
        )
    )


def _run_in_worker(
    target: str,
    root: str,
    pipeline: str,
    step: str,
    params: dict[str, Any],
    upstream: dict[str, dict[str, Any]],
) -> Any:
    from forgeml.pipeline.functions import resolve
    from forgeml.project import Project

    with Project.load(root) as project:
        ctx = StepContext(project, pipeline, step, params, upstream)
        return resolve(target, project.root).run(ctx)
