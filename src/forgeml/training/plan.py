"""What one ``forgeml train`` will do, decided and checked before anything is fitted.

Resolves the dataset version and the task, drops rows without a target, refuses leaking
features, splits the rows, and checks the metric and the candidates (including that a
user estimator could be stored safely), so that a mistake in the spec stops the command
before a run is started or a model is searched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from forgeml.config import TrainSpec
from forgeml.data import DatasetVersion, dataset, list_datasets
from forgeml.errors import ConfigError
from forgeml.project import Project, ProjectLike, resolve_project
from forgeml.training import metrics as m
from forgeml.training.candidates import BUILTIN, Candidate, candidate
from forgeml.training.evaluation import encode_target
from forgeml.training.splits import Split, make_split, rare_class_warning, time_split_warning
from forgeml.training.task import TargetInfo, check_leakage, infer_task

__all__ = ["TrainingPlan", "check_storable", "plan_training"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingPlan:
    """The checked inputs of one training run."""

    project: Project
    spec: TrainSpec
    version: DatasetVersion
    name: str  # the registry name of the model (and the run's experiment)
    table: pa.Table  # rows with a target
    info: TargetInfo
    y: np.ndarray  # encoded target, one per row of ``table``
    split: Split
    metric: str
    candidates: dict[str, Candidate]
    class_weight: Any
    warnings: tuple[str, ...] = ()  # what the user should know about the data before trusting
    feature_schema: tuple[dict[str, Any], ...] = ()  # columns joined from a feature service
    features: dict[str, Any] | None = None  # what train.features joined (model lineage)

    @property
    def schema(self) -> dict[str, Any]:
        """The dataset's schema, with the columns a feature service added."""
        if not self.feature_schema:
            return self.version.schema
        columns = [*self.version.schema["columns"], *self.feature_schema]
        return {**self.version.schema, "columns": columns}

    def rows(self, positions: np.ndarray) -> pa.Table:
        """The rows of ``table`` at ``positions``."""
        return self.table.take(pa.array(positions))


def plan_training(
    *,
    dataset_ref: str | None,
    project: ProjectLike,
    target: str | None,
    exclude: Sequence[str],
    say: Progress,
    model: str | None = None,
    task: str | None = None,
    metric: str | None = None,
    split_by_time: bool = True,
) -> TrainingPlan:
    """Load and check everything a training run needs; raise before any fitting.

    ``split_by_time=False``: ``train.split.time_column`` is ignored (see ``train``).
    """
    found = resolve_project(project)
    spec = found.spec.train
    if not split_by_time and spec.split.time_column:
        method = "auto" if spec.split.method == "time" else spec.split.method
        untimed = spec.split.model_copy(update={"time_column": None, "method": method})
        spec = spec.model_copy(update={"split": untimed})
    if model:
        spec = spec.model_copy(update={"model": model})
    if target:
        spec = spec.model_copy(update={"target": target})
    if task:
        spec = spec.model_copy(update={"task": task})
    if metric:
        spec = spec.model_copy(update={"metric": metric})
    if exclude:
        spec = spec.model_copy(update={"exclude": [*spec.exclude, *exclude]})
    version = _dataset(found, dataset_ref or spec.dataset)
    say(f"loading {version.ref}")
    table = version.to_arrow()
    joined = None
    if spec.features:  # the service's features, as of each row's time
        from forgeml.featurestore.training import join_training_features

        joined = join_training_features(found, table, spec, say)
        table = joined.table
        spec = spec.model_copy(update={"exclude": [*spec.exclude, *joined.excluded]})
    absent = [c for c in spec.exclude if c not in table.column_names]
    if absent:  # harmless: data written by the retraining loop has only the model's inputs
        say(f"exclude: {', '.join(absent)} not in {version.ref} (nothing to exclude)")
        spec = spec.model_copy(
            update={"exclude": [c for c in spec.exclude if c in table.column_names]}
        )
    info = infer_task(table, spec.target, spec.task)
    metric = spec.metric or m.DEFAULT_METRIC[info.task]
    m.check_metric(metric, info.task, spec.costs)
    candidates = {c: candidate(c) for c in spec.candidates}
    if table.column(info.column).null_count:  # filtering copies every column
        table = table.filter(pc.is_valid(table.column(info.column)))
    features = [c for c in table.column_names if c != info.column and c not in spec.exclude]
    check_leakage(table, info, features)
    y = encode_target(table, info)
    split = make_split(table, spec.split, info, seed=spec.seed)
    warnings = [rare_class_warning(table, info, split), time_split_warning(table, split)]
    class_weight = _class_weight(spec, info, y[split.train])
    for chosen in candidates.values():
        check_storable(chosen, info.task, spec.seed, class_weight)
    return TrainingPlan(
        project=found,
        spec=spec,
        version=version,
        name=spec.model or version.name,
        table=table,
        info=info,
        y=y,
        split=split,
        metric=metric,
        candidates=candidates,
        class_weight=class_weight,
        warnings=tuple(w for w in warnings if w),
        feature_schema=tuple(joined.schema) if joined else (),
        features=joined.lineage if joined else None,
    )


def _dataset(project: Project, ref: str | None) -> DatasetVersion:
    if ref:
        return dataset(ref, project=project)
    names = [d.name for d in list_datasets(project=project)]
    if len(names) == 1:
        return dataset(names[0], project=project)
    raise ConfigError(
        "which dataset to train on is not set"
        + (f" (the project has {', '.join(names)})" if names else " and the project has none"),
        fix="set train.dataset in forgeml.yaml or pass --dataset NAME[@VERSION]"
        + ("" if names else "; ingest data first with 'forgeml ingest'"),
    )


def _class_weight(spec: TrainSpec, info: TargetInfo, y_train: np.ndarray) -> Any:
    if spec.class_weight == "none" or not info.is_classification:
        return None
    if spec.class_weight == "balanced":
        return "balanced"
    rates = np.bincount(y_train) / max(1, len(y_train))
    return "balanced" if rates.min() < 0.2 else None  # auto: weight rare classes up


def check_storable(cand: Candidate, task: str, seed: int, class_weight: Any) -> None:
    """Refuse, before any search, a user estimator whose model could not be stored safely.

    Models of the ``sklearn`` flavor are stored with skops, and forgeml loads back only the
    exact types on the registry's allow-list (:mod:`forgeml.registry.trust`). The
    estimator is built with its defaults and serialised, unfitted, to see which types it
    holds.
    """
    if cand.name in BUILTIN or cand.flavor != "sklearn":
        return
    from forgeml.registry.skops_module import skops_io
    from forgeml.registry.trust import refused_types

    sio = skops_io()

    try:
        estimator = cand.build(task, {}, seed, class_weight)
    except Exception as e:  # the search would fail every trial of it
        raise ConfigError(
            f"candidate {cand.name!r} cannot be built with its defaults ({type(e).__name__}: {e})",
            fix="give every argument of its constructor a default value",
        ) from None
    try:
        data = sio.dumps(estimator)
    except Exception as e:  # skops cannot serialise it at all
        raise ConfigError(
            f"candidate {cand.name!r} cannot be saved with skops ({type(e).__name__}: {e})",
            fix=_STORABLE_FIX,
        ) from None
    refused = refused_types(data, f"candidate {cand.name!r}")
    if refused:
        raise ConfigError(
            f"candidate {cand.name!r} holds types that forgeml will not load back from a "
            f"stored model: {', '.join(refused)}",
            fix=_STORABLE_FIX,
        )


_STORABLE_FIX = (
    "use a scikit-learn forest by import path ('sklearn.ensemble:RandomForestClassifier' "
    "or 'sklearn.ensemble:RandomForestRegressor') or a built-in candidate "
    f"({', '.join(BUILTIN)}): a user estimator is stored with skops, and only the exact "
    "types forgeml itself stores are loaded back"
)
