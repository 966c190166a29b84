"""The built-in steps: ingest, validate, train, gate, register, predict and monitor.

Each has a ``run`` (does the work, returns JSON outputs) and a ``fingerprint`` (what it
reads from outside the pipeline: a file's sha256, a dataset version's content hash, the
spec sections it obeys), which goes into its cache key. Fingerprints are cheap: they never
load a model or a table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forgeml.errors import ConfigError
from forgeml.pipeline.context import StepContext, StepFailed, file_sha256

__all__ = ["BUILTINS", "Builtin"]

Outputs = dict[str, Any]


@dataclass(frozen=True)
class Builtin:
    run: Callable[[StepContext], Outputs]
    fingerprint: Callable[[StepContext], Outputs]
    volatile: bool = False  # reads something that changes with time: never reused


def _source(ctx: StepContext) -> Outputs:
    source = ctx.params.get("source")
    if isinstance(source, str) and "://" in source:  # a database: its rows may change
        from forgeml.store import display_url

        return {"source": display_url(source), "query": ctx.params.get("query"), "volatile": True}
    path = ctx.path("source")
    return {"source": str(path), "sha256": ctx.file_sha256(path)}


def _dataset_name(ctx: StepContext) -> str:
    name = ctx.params.get("name")
    if name is None:
        from forgeml.data.ingest import default_name

        name = default_name(str(ctx.path("source")))
    return str(name)


def _ingest_fingerprint(ctx: StepContext) -> Outputs:
    name = _dataset_name(ctx)
    rules = ctx.project.spec.dataset(name).validation.model_dump(mode="json")
    return {"name": name, "source": _source(ctx), "rules": rules}


def _ingest(ctx: StepContext) -> Outputs:
    from forgeml.data.ingest import ingest

    source: Any = ctx.params.get("source")
    if not (isinstance(source, str) and "://" in source):
        source = ctx.path("source")
    result = ingest(
        source,
        name=_dataset_name(ctx),
        project=ctx.project,
        query=ctx.params.get("query"),
        progress=ctx.say,
    )
    version = result.version
    ctx.say(
        f"{version.ref}: {version.rows:,} rows" + ("" if result.created else " (already stored)")
    )
    return {"dataset": version.ref, "content_hash": version.content_hash, "rows": version.rows}


def _dataset_ref(ctx: StepContext) -> str:
    ref = ctx.find("dataset") or ctx.project.spec.train.dataset
    if not ref:
        raise ConfigError(
            f"step {ctx.step!r} of pipeline {ctx.pipeline!r} has no dataset to read",
            fix="run it after an ingest step, pass params: {dataset: NAME[@VERSION]}, "
            "or set train.dataset in forgeml.yaml",
        )
    return str(ref)


def _dataset_fingerprint(ctx: StepContext) -> Outputs:
    # Reads the version's row only: the data library is not even imported on a cache hit
    from forgeml.names import parse_dataset_ref

    if ctx.params.get("source") is not None:  # validate a file before it is ingested
        name = str(ctx.params.get("name") or _dataset_name(ctx))
        rules = ctx.project.spec.dataset(name).validation.model_dump(mode="json")
        return {"source": _source(ctx), "name": name, "rules": rules}
    name, number = parse_dataset_ref(_dataset_ref(ctx))
    version, content_hash = ctx.project.ledger.dataset_version(name, number)  # pins NAME@N
    ref = f"{name}@{version}"
    rules = ctx.project.spec.dataset(name).validation.model_dump(mode="json")
    return {"dataset": ref, "content_hash": content_hash, "rules": rules}


def _validate(ctx: StepContext) -> Outputs:
    from forgeml.data.ingest import validate_source
    from forgeml.data.validation import validate
    from forgeml.data.versions import dataset

    if ctx.params.get("source") is not None:
        name = str(ctx.params.get("name") or _dataset_name(ctx))
        violations = validate_source(str(ctx.path("source")), name=name, project=ctx.project)
        checked = name
    else:
        version = dataset(_dataset_ref(ctx), project=ctx.project)
        rules = ctx.project.spec.dataset(version.name).validation
        violations = validate(version.to_arrow(), rules)
        checked = version.ref
    if violations:
        shown = "; ".join(str(v) for v in violations[:5])
        raise StepFailed(
            f"{checked} breaks {len(violations)} validation rule(s): {shown}",
            fix=f"correct the data, or the rules under datasets.{checked.split('@')[0]} "
            "in forgeml.yaml",
        )
    outputs: Outputs = {"violations": 0}
    if "@" in checked:
        outputs["dataset"] = checked
    return outputs


def _train_fingerprint(ctx: StepContext) -> Outputs:
    spec = ctx.project.spec
    return {
        **_dataset_fingerprint(ctx),
        "train": spec.train.model_dump(mode="json"),
        "gate": spec.gate.model_dump(mode="json"),
    }


def _train(ctx: StepContext) -> Outputs:
    from forgeml.data.versions import dataset
    from forgeml.training.trainer import train

    version = dataset(_dataset_ref(ctx), project=ctx.project)
    p = ctx.params
    result = train(
        dataset_ref=version.ref,
        project=ctx.project,
        target=p.get("target"),
        trials=p.get("trials"),
        time_budget=p.get("budget"),
        exclude=list(p.get("exclude") or ()),
        model=p.get("model"),
        register=False,
        progress=ctx.say,
    )
    score = result.test.get(result.metric)
    return {
        "run_id": result.run_id,
        "dataset": version.ref,
        "candidate": result.candidate,
        "metric": result.metric,
        "score": score if isinstance(score, int | float) else None,
        "gate": result.gate.to_dict(),
    }


def _gate_fingerprint(ctx: StepContext) -> Outputs:
    pinned: Outputs = {}
    if ctx.params.get("model") is not None:
        pinned = _pinned_model(ctx, str(ctx.params["model"]))
    return {"gate": ctx.project.spec.gate.model_dump(mode="json"), **pinned}


def _gate(ctx: StepContext) -> Outputs:
    model = ctx.params.get("model")
    if model is not None:
        from forgeml.training.gate_version import gate

        report = gate(str(model), project=ctx.project)
        result = report.result.to_dict()
        subject = report.version.ref
    else:
        result = ctx.find("gate")
        subject = f"run {ctx.find('run_id')}"
        if not isinstance(result, dict):
            raise ConfigError(
                f"step {ctx.step!r} has no gate result to check",
                fix="run it after a train step, or pass params: {model: NAME@VERSION}",
            )
    if not result.get("passed"):
        failed = [c.get("name") for c in result.get("checks", []) if not c.get("passed")]
        raise StepFailed(
            f"{subject} failed its gate: " + (", ".join(map(str, failed)) or "see the run"),
            fix="see 'forgeml runs show' for the failed checks; retrain, or relax the gate",
        )
    ctx.say(f"{subject} passed its gate")
    passed_on = {"model": model} if model else {"run_id": ctx.find("run_id")}
    return {"passed": True, "gate": result, **passed_on}


def _register(ctx: StepContext) -> Outputs:
    from forgeml.registry.aliases import promote
    from forgeml.registry.runs import register_run

    run_id = ctx.find("run_id")
    if not run_id:
        raise ConfigError(
            f"step {ctx.step!r} has no training run to register",
            fix="run it after a train step (directly or through a gate step)",
        )
    version = register_run(str(run_id), name=ctx.params.get("name"), project=ctx.project)
    promoted = bool(ctx.params.get("promote", True))
    if promoted:
        alias = str(ctx.params.get("alias", "champion"))
        gate = ctx.find("gate")
        promote(
            version.ref,
            alias=alias,
            reason=f"pipeline {ctx.pipeline}, step {ctx.step}",
            gate=gate if isinstance(gate, dict) else None,
            project=ctx.project,
        )
        ctx.say(f"registered {version.ref} and promoted it to {alias}")
    return {"model": version.ref, "promoted": promoted}


def _model_ref(ctx: StepContext) -> str:
    ref = ctx.find("model") or ctx.project.spec.train.model or ctx.project.spec.train.dataset
    if not ref:
        raise ConfigError(
            f"step {ctx.step!r} of pipeline {ctx.pipeline!r} has no model to use",
            fix="run it after a register step or pass params: {model: NAME[@VERSION]}",
        )
    return str(ref)


def _pinned_model(ctx: StepContext, ref: str) -> Outputs:
    """``name@N`` and the bundle's sha256 of model reference ``ref`` (an alias pinned to
    the version it is on now)."""
    from forgeml.names import parse_model_ref

    name, selector = parse_model_ref(ref)
    version, bundle = ctx.project.ledger.model_version(name, selector)
    return {"model": f"{name}@{version}", "bundle": bundle}


def _predict_fingerprint(ctx: StepContext) -> Outputs:
    ref = _model_ref(ctx)
    if "@" not in ref:
        ref += "@champion"
    source = ctx.path("input")
    return {
        **_pinned_model(ctx, ref),
        "input": ctx.file_sha256(source),
        "output": str(ctx.path("output")),
    }


def _predict(ctx: StepContext) -> Outputs:
    from forgeml.serve.batch import predict_file

    output = ctx.path("output")
    source = ctx.path("input")
    output.parent.mkdir(parents=True, exist_ok=True)
    result = predict_file(
        _model_ref(ctx),
        source,
        output,
        project=ctx.project,
        on_error=str(ctx.params.get("on_error", "stop")),  # type: ignore[arg-type]
    )
    ctx.say(f"{result.model}: {result.rows:,} rows scored into {output}")
    return {
        "model": result.model,
        "output": str(output),
        "rows": result.rows,
        "rejected": result.rejected,
        "files": {str(output): file_sha256(output)},
    }


def _monitor(ctx: StepContext) -> Outputs:
    from forgeml.config import parse_duration
    from forgeml.monitor.run import monitor

    name = _model_ref(ctx).split("@")[0]
    spec = ctx.project.spec.monitor
    report = monitor(
        name,
        project=ctx.project,
        window=parse_duration(str(ctx.params.get("window", spec.window))),
        max_drop=spec.max_drop,
        min_labels=spec.min_labels,
    )
    ctx.say(f"{name}: drifted {report.drifted}, decayed {report.decayed}")
    return {
        "model": report.version.ref,
        "drifted": report.drifted,
        "decayed": report.decayed,
        "alerts": len(report.alerts),
    }


def _nothing(_ctx: StepContext) -> Outputs:
    return {}


BUILTINS: dict[str, Builtin] = {
    "ingest": Builtin(_ingest, _ingest_fingerprint),
    "validate": Builtin(_validate, _dataset_fingerprint),
    "train": Builtin(_train, _train_fingerprint),
    "gate": Builtin(_gate, _gate_fingerprint),
    "register": Builtin(_register, _nothing),
    "predict": Builtin(_predict, _predict_fingerprint),
    "monitor": Builtin(_monitor, _nothing, volatile=True),
}
