"""Training with the user's own code: ``train: {entry_point: "pkg.module:function"}``.

When ``forgeml.yaml`` names an entry point, ``forgeml train`` (and each retraining cycle
of the loop) calls that function instead of searching forgeml's candidates. It gets the
training rows as a pandas DataFrame (the feature columns and the target column, the
excluded columns left out) and returns a fitted model that :func:`forgeml.log_model`
accepts. forgeml then does what it does for its own models: it stores the model, scores it
on the held-out test rows of the same split, runs the project's gate (versus the champion
on the same rows), writes the model card, and registers it only when the gate passes.

>>> from forgeml.errors import ConfigError
>>> try:
...     resolve_entry_point("forgeml_no_such_module:fit")
... except ConfigError as e:
...     print(e.message.split(":")[0])
train.entry_point 'forgeml_no_such_module
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from forgeml.config import ENTRY_POINT
from forgeml.errors import ConfigError
from forgeml.project import ProjectLike, who
from forgeml.registry import ModelVersion, load_bundle, promote, register_model, save_bundle
from forgeml.registry.byo import model_bundle
from forgeml.training.card import render_card
from forgeml.training.evaluation import CHAMPION, encode_target
from forgeml.training.outcome import judge_on_test_rows
from forgeml.training.plan import TrainingPlan, plan_training
from forgeml.training.predict import Predictor
from forgeml.training.tracking import Run, start_run
from forgeml.training.trainer import TrainResult

__all__ = ["resolve_entry_point", "train_with_entry_point"]

Progress = Callable[[str], None]


def resolve_entry_point(text: str) -> Callable[[Any], Any]:
    """The function ``package.module:function`` names; a ConfigError naming the key if not."""
    fix = (
        "set train.entry_point in forgeml.yaml to 'package.module:function', a function "
        "importable where forgeml runs (installed, or on PYTHONPATH)"
    )
    if not ENTRY_POINT.fullmatch(text):
        raise ConfigError(f"train.entry_point {text!r} is not 'package.module:function'", fix=fix)
    module_name, _, attribute = text.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except ImportError as e:
        raise ConfigError(f"train.entry_point {text!r} cannot be imported ({e})", fix=fix) from None
    except AttributeError:
        raise ConfigError(
            f"train.entry_point {text!r}: module {module_name} has no {attribute}", fix=fix
        ) from None
    if not callable(found):
        raise ConfigError(f"train.entry_point {text!r} is not a function", fix=fix)
    return found  # type: ignore[no-any-return]


def train_with_entry_point(
    *,
    dataset_ref: str | None,
    project: ProjectLike,
    target: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    exclude: Sequence[str] = (),
    register: bool = True,
    promote_it: bool = True,
    model: str | None = None,
    versus_champion: bool = True,
    say: Progress = lambda _text: None,
    split_by_time: bool = True,
) -> TrainResult:
    """Fit the entry point's model on the training rows, gate it, register it if it passes."""
    plan = plan_training(
        dataset_ref=dataset_ref,
        project=project,
        target=target,
        exclude=exclude,
        say=say,
        model=model,
        task=task,
        metric=metric,
        split_by_time=split_by_time,
    )
    entry = str(plan.spec.entry_point)
    fit = resolve_entry_point(entry)
    info, split = plan.info, plan.split
    features = [
        c for c in plan.table.column_names if c != info.column and c not in plan.spec.exclude
    ]
    with start_run(
        experiment=plan.name,
        project=plan.project,
        dataset=plan.version,
        params={"train": plan.spec.model_dump(mode="json"), "entry_point": entry},
        tags={"metric": plan.metric},
    ) as run:
        rows = np.sort(np.concatenate([split.train, split.valid]))
        frame = plan.rows(rows).select([*features, info.column]).to_pandas()
        say(f"calling {entry} with {len(frame)} training rows")
        began = time.monotonic()
        fitted = fit(frame)
        if fitted is None:
            raise ConfigError(
                f"train.entry_point {entry!r} returned None, not a fitted model",
                fix="return the fitted model from the function",
            )
        seconds = time.monotonic() - began
        prepared = model_bundle(
            fitted,
            signature_from=frame[features],
            task=info.task,
            classes=None if hasattr(fitted, "classes_") else info.classes,
            target=info.column,
        )
        signature = {**prepared.signature, "dataset": plan.version.ref}
        sha = save_bundle(prepared.bundle, plan.project.artifacts)
        predictor = Predictor(load_bundle(sha, plan.project.artifacts))  # what is stored
        gated = _evaluate(plan, run, predictor, signature, versus_champion)
        test, gate, champion = gated["test"], gated["gate"], gated["champion"]
        lineage = {
            "source": "entry_point",
            "entry_point": entry,
            "flavor": prepared.bundle.flavor,
            "logged_by": who(),
            "dataset": plan.version.ref,
            "run_id": run.id,
            "split": split.method,
            "rows": {"train": len(rows), "test": len(split.test), "fitted": len(rows)},
            "fit_seconds": round(seconds, 3),
        }
        context = _card_context(plan, prepared.bundle.flavor, entry, predictor, gated)
        card = render_card(context).encode()
        run.log_artifact("model/card.html", card)
        run.log_metrics({f"test/{k}": v for k, v in test.items() if isinstance(v, int | float)})
        run.set_tag("gate", "passed" if gate.passed else "failed")
    registered = None
    if register and gate.passed:
        registered = _register(plan, run, sha, signature, lineage, test, card, promote_it, gated)
    return TrainResult(
        run_id=run.id,
        candidate=f"entry_point {entry}",
        params={},
        metric=plan.metric,
        test=test,
        valid={},
        gate=gate,
        model=registered,
        promoted=registered is not None and promote_it,
        champion=champion,
        context=context,
        warnings=list(plan.warnings),
    )


def _evaluate(
    plan: TrainingPlan,
    run: Run,
    predictor: Predictor,
    signature: dict[str, Any],
    versus_champion: bool,
) -> dict[str, Any]:
    """Test metrics, slices, the champion on the same rows and the gate, as for trained ones."""
    info, split = plan.info, plan.split
    own = signature.get("classes")
    y = plan.y
    if info.classes is not None and own and list(own) != list(info.classes):
        info = replace(info, classes=list(own))  # the model's own class order
        y = encode_target(plan.table, info)
    test_rows = plan.rows(split.test)
    scores = predictor.scores(test_rows)
    test, slices, champion, gate = judge_on_test_rows(
        plan, info, y, predictor, test_rows, scores, versus_champion=versus_champion
    )
    return {"test": test, "slices": slices, "champion": champion, "gate": gate, "info": info}


def _card_context(
    plan: TrainingPlan, flavor: str, entry: str, predictor: Predictor, gated: dict[str, Any]
) -> dict[str, Any]:
    info, split = gated["info"], plan.split
    return {
        "model": {
            "name": plan.name,
            "version": None,
            "flavor": flavor,
            "candidate": f"entry point {entry}",
            "params": {},
            "task": info.task,
            "target": info.column,
            "classes": info.classes,
            "positive_class": info.positive_class,
            "threshold": predictor.threshold,
            "calibration": None,
            "metric": plan.metric,
        },
        "dataset": {
            "ref": plan.version.ref,
            "rows": plan.table.num_rows,
            "columns": plan.table.num_columns,
            "split": {
                "method": split.method,
                "train": len(split.train) + len(split.valid),
                "valid": 0,
                "test": len(split.test),
            },
        },
        "metrics": {"test": gated["test"], "valid": {}},
        "slices": gated["slices"],
        "gate": gated["gate"].to_dict(),
        "champion": gated["champion"],
    }


def _register(
    plan: TrainingPlan,
    run: Run,
    sha: str,
    signature: dict[str, Any],
    lineage: dict[str, Any],
    test: dict[str, Any],
    card: bytes,
    promote_it: bool,
    gated: dict[str, Any],
) -> ModelVersion:
    from forgeml.monitor.references import store_reference
    from forgeml.registry import model_version

    registered = register_model(
        plan.name,
        sha,
        card_html=card,
        signature=signature,
        metrics={"test": test},
        lineage=lineage,
        run_id=run.id,
        project=plan.project,
    )
    store_reference(registered, project=plan.project, table=plan.table)
    if not promote_it:
        return registered
    champion, metric = gated["champion"], plan.metric
    promote(
        registered.ref,
        alias=CHAMPION,
        project=plan.project,
        gate=gated["gate"].to_dict(),
        reason=f"trained by {lineage['entry_point']} in run {run.id[:8]}: {metric} "
        f"{test.get(metric, math.nan):.4f}"
        + (f" vs champion {champion.get(metric, math.nan):.4f}" if champion else ""),
    )
    return model_version(registered.ref, project=plan.project)
