"""Run a pipeline: each step is reused from the cache when its inputs are unchanged.

A step's cache key is the sha256 of its ``uses``, parameters, code version, fingerprint
(the dataset hashes, files and spec sections it reads) and the outputs of the steps it runs
after. Steps run in topological order; a failed step's dependants are skipped and every
result before it stays cached, so the next run starts where this one failed.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgeml.errors import ConfigError, DataError, ForgemlError, NotFound
from forgeml.pipeline.context import StepContext
from forgeml.pipeline.dag import Pipeline, Step, load_pipeline
from forgeml.pipeline.file_hashes import FILE_NAME, FileHashes
from forgeml.pipeline.functions import StepKind, resolve
from forgeml.project import Project, ProjectLike, resolve_project, who

__all__ = ["PipelineRun", "StepRun", "cache_key", "run_pipeline"]

Say = Callable[[str], None]
Execute = Callable[[StepKind, StepContext], Any]


@dataclass
class StepRun:
    """How one step of a run ended: ``succeeded``, ``cached``, ``failed`` or ``skipped``."""

    name: str
    uses: str
    status: str
    cache_key: str = ""
    outputs: dict[str, Any] | None = None
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class PipelineRun:
    id: str
    pipeline: str
    status: str
    steps: list[StepRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def executed(self) -> list[str]:
        return [s.name for s in self.steps if s.status in ("succeeded", "failed")]

    @property
    def cached(self) -> list[str]:
        return [s.name for s in self.steps if s.status == "cached"]

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    def __repr__(self) -> str:
        return (
            f"<PipelineRun {self.pipeline} {self.status}: {len(self.executed)} executed, "
            f"{len(self.cached)} reused, run {self.id[:8]}>"
        )


def cache_key(
    kind: StepKind, step: Step, fingerprint: Mapping[str, Any], upstream: Mapping[str, Any]
) -> str:
    """sha256 of everything a step's result depends on (canonical JSON)."""
    document = {
        "uses": kind.target,
        "code": kind.code,
        "params": step.params,
        "fingerprint": fingerprint,
        "upstream": upstream,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def run_pipeline(
    pipeline: str | Pipeline,
    *,
    project: ProjectLike = None,
    from_step: str | None = None,
    only: str | None = None,
    force: bool = False,
    executor: str | None = None,
    progress: Say | None = None,
) -> PipelineRun:
    """Run ``pipeline`` (a name in ``forgeml.yaml``, ``retrain``, or a :class:`Pipeline`).

    ``from_step`` re-runs that step and everything after it, reusing what comes before;
    ``only`` runs that one step on its upstream steps' stored results (``force`` re-runs it
    even when its own result is stored). ``executor`` overrides the pipeline's (``local``
    or ``ray``). Returns a :class:`PipelineRun`; its ``status`` is ``failed`` when a step
    failed (the run is recorded either way).
    """
    say = progress or (lambda _text: None)
    found = resolve_project(project)
    dag = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline, found.spec)
    if from_step is not None and only is not None:
        raise ConfigError(
            "pass either --from or --only, not both",
            fix="--from STEP re-runs STEP and its dependants; --only STEP runs just STEP",
        )
    for chosen in (from_step, only):
        if chosen is not None:
            dag.step(chosen)
    chosen_executor = executor or dag.executor
    execute = _executor(chosen_executor, found)
    forced = (
        {from_step, *dag.descendants(from_step)}
        if from_step
        else ({only} if force and only else set())
    )
    run = PipelineRun(uuid.uuid4().hex, dag.name, "running")
    options = {"from": from_step, "only": only, "force": force}
    found.ledger.start_run(run.id, dag.name, chosen_executor, options, who())
    started = time.perf_counter()
    outputs: dict[str, dict[str, Any]] = {}
    keys: dict[str, str] = {}
    broken: set[str] = set()
    wanted = set(dag.order()) if only is None else {only}
    hashes = FileHashes(found.state_dir / FILE_NAME)
    try:
        if only is not None:
            _stored_upstream(dag, only, found, outputs, keys, say, hashes)
        for name in dag.order():
            if name not in wanted:
                continue
            step = dag.steps[name]
            if broken & set(step.after):
                broken.add(name)
                run.steps.append(_record(found, run.id, StepRun(name, step.target, "skipped")))
                say(f"{name}: skipped (an earlier step failed)")
                continue
            ctx = _context(dag, step, found, outputs, say, hashes)
            result = _run_step(step, ctx, keys, name in forced, execute, say, run.id)
            run.steps.append(result)
            if result.status == "failed":
                broken.add(name)
            else:
                outputs[name] = result.outputs or {}
                keys[name] = result.cache_key
    finally:
        hashes.save()
    run.status = "failed" if broken else "succeeded"
    run.seconds = time.perf_counter() - started
    failed = [s for s in run.steps if s.status == "failed"]
    found.ledger.finish_run(run.id, run.status, failed[0].error if failed else None)
    return run


def _run_step(
    step: Step,
    ctx: StepContext,
    keys: dict[str, str],
    forced: bool,
    execute: Execute,
    say: Say,
    run_id: str,
) -> StepRun:
    project, outputs = ctx.project, ctx.upstream
    try:
        kind = resolve(step.uses if step.uses is not None else step.name, project.root)
        fingerprint = kind.fingerprint(ctx)
    except ForgemlError as error:
        result = StepRun(step.name, step.target, "failed", error=str(error))
        say(f"{step.name}: failed before it started: {error}")
        return _record(project, run_id, result)
    key = cache_key(kind, step, fingerprint, {b: outputs[b] for b in step.after})
    inputs = {
        "params": _masked(step.params),
        "fingerprint": fingerprint,
        "upstream": {b: keys.get(b) for b in step.after},
        "code": kind.code,
    }
    reusable = step.cache and not kind.volatile and not fingerprint.get("volatile")
    if not forced and reusable:
        hit = project.ledger.cached_step(key)
        if hit is not None and _files_intact(hit.outputs, ctx):
            say(f"{step.name}: unchanged inputs, reused the result of run {hit.run_id[:8]}")
            project.ledger.start_step(
                run_id, step.name, kind.target, key, inputs, status="cached", outputs=hit.outputs
            )
            return StepRun(step.name, kind.target, "cached", key, hit.outputs)
    row_id = project.ledger.start_step(run_id, step.name, kind.target, key, inputs)
    say(f"{step.name}: running")
    began = time.perf_counter()
    attempts, error_text, produced = 0, None, None
    while True:
        attempts += 1
        try:
            produced = _json_outputs(execute(kind, ctx), step.name)
            error_text = None
            break
        except (ConfigError, DataError, NotFound) as error:  # the same again on a retry
            error_text = str(error)
            break
        except Exception as error:  # any failure of user code is recorded, then retried
            error_text = (
                str(error)
                if isinstance(error, ForgemlError)
                else (f"{type(error).__name__}: {error}")
            )
            if attempts > step.retries:
                break
            wait = step.backoff * 2 ** (attempts - 1)
            say(f"{step.name}: attempt {attempts} failed ({error_text}); retrying in {wait:g} s")
            time.sleep(wait)
    status = "failed" if error_text is not None else "succeeded"
    project.ledger.finish_step(
        row_id, status, attempts=attempts, outputs=produced, error=error_text
    )
    seconds = time.perf_counter() - began
    say(f"{step.name}: {status} in {seconds:.1f} s" + (f": {error_text}" if error_text else ""))
    return StepRun(step.name, kind.target, status, key, produced, attempts, seconds, error_text)


def _context(
    dag: Pipeline,
    step: Step,
    project: Project,
    outputs: dict[str, dict[str, Any]],
    say: Say,
    hashes: FileHashes,
) -> StepContext:
    return StepContext(
        project=project,
        pipeline=dag.name,
        step=step.name,
        params=dict(step.params),
        upstream={b: outputs[b] for b in step.after},
        say=lambda text: say(f"{step.name}: {text}"),
        hashes=hashes,
    )


def _stored_upstream(
    dag: Pipeline,
    only: str,
    project: Project,
    outputs: dict[str, dict[str, Any]],
    keys: dict[str, str],
    say: Say,
    hashes: FileHashes,
) -> None:
    """Fill ``outputs`` with the stored results of every step ``only`` depends on."""
    needed = dag.ancestors(only)
    for name in dag.order():
        if name not in needed:
            continue
        step = dag.steps[name]
        ctx = _context(dag, step, project, outputs, say, hashes)
        kind = resolve(step.uses if step.uses is not None else step.name, project.root)
        key = cache_key(kind, step, kind.fingerprint(ctx), {b: outputs[b] for b in step.after})
        hit = project.ledger.cached_step(key)
        if hit is None:
            raise NotFound(
                f"step {name!r} of pipeline {dag.name!r} has no stored result for its current "
                f"inputs, and step {only!r} needs it",
                fix=f"run 'forgeml pipeline run {dag.name}' (or with --only {name}) first",
            )
        outputs[name], keys[name] = hit.outputs, key


def _record(project: Project, run_id: str, result: StepRun) -> StepRun:
    row = project.ledger.start_step(
        run_id, result.name, result.uses, result.cache_key, {}, status=result.status
    )
    if result.error is not None:
        project.ledger.finish_step(row, result.status, attempts=0, error=result.error)
    return result


def _json_outputs(value: Any, step: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"step {step!r} returned a {type(value).__name__}, not a mapping of outputs",
            fix="return a dict of JSON values (or None) from the step function",
        )
    try:
        return dict(json.loads(json.dumps(dict(value), allow_nan=False)))
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"step {step!r} returned outputs that are not JSON: {error}",
            fix="return strings, numbers, booleans, lists and dicts only",
        ) from None


def _files_intact(outputs: Mapping[str, Any], ctx: StepContext) -> bool:
    """A stored result that names files (``files: {path: sha256}``) is reused only while
    each file still has the bytes the step wrote."""
    files = outputs.get("files")
    if not isinstance(files, dict):
        return True
    for path, digest in files.items():
        target = Path(path)
        if not target.is_file():
            return False
        try:
            if ctx.file_sha256(target) != digest:
                return False
        except ConfigError:
            return False
    return True


def _masked(params: Mapping[str, Any]) -> dict[str, Any]:
    if not any(isinstance(v, str) and "://" in v for v in params.values()):
        return dict(params)
    from forgeml.store import display_url

    return {
        k: display_url(v) if isinstance(v, str) and "://" in v else v for k, v in params.items()
    }


def _executor(name: str, project: Project) -> Execute:
    if name == "local":
        return lambda kind, ctx: kind.run(ctx)
    if name == "ray":
        from forgeml.pipeline.ray_executor import ray_execute

        return ray_execute
    raise ConfigError(f"executor {name!r} is not known", fix="use 'local' or 'ray'")
