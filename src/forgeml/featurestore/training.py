"""Training sets from a feature service: the dataset's rows get their features point in time.

``train.features: SERVICE`` in ``forgeml.yaml`` makes ``forgeml train`` join the service's
features to each dataset row as of the row's ``train.feature_timestamp`` (default: the split's
time column), using the row's entity keys. The keys and the timestamp are not model inputs:
serving takes the keys to fetch the same features from the online store. What was joined
(the service, the dataset versions read, the definitions) is recorded on the model version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from forgeml.errors import ConfigError
from forgeml.featurestore.definitions import FeatureRegistry
from forgeml.featurestore.offline import get_historical_features

if TYPE_CHECKING:
    import pyarrow as pa

    from forgeml.config import TrainSpec
    from forgeml.project import Project

__all__ = ["TrainingFeatures", "join_training_features", "rejoin_features"]


@dataclass(frozen=True)
class TrainingFeatures:
    table: pa.Table  # the dataset's columns, then one per feature
    excluded: list[str]  # entity keys and the timestamp: not model inputs
    schema: list[dict[str, Any]]  # the feature columns' schema entries (for the signature)
    lineage: dict[str, Any]  # recorded on the model version; serving rebuilds the lookup


def join_training_features(
    project: Project, table: pa.Table, spec: TrainSpec, say: Callable[[str], None]
) -> TrainingFeatures:
    """``table`` with the features of service ``spec.features`` as of each row's time."""
    import pyarrow as pa

    from forgeml.data.profile import profile_table
    from forgeml.data.schema import infer_schema

    service = str(spec.features)
    timestamp = spec.feature_timestamp or spec.split.time_column
    if not timestamp:
        raise ConfigError(
            f"train.features {service!r} needs the time of each training row",
            fix="set train.feature_timestamp (or train.split.time_column) to a timestamp column",
        )
    registry = FeatureRegistry.from_spec(project.spec)
    resolved = registry.resolve(service)
    fetched = registry.fetched(resolved)
    keys = list(dict.fromkeys(k for view, _ in fetched for k in registry.join_keys(view)))
    fields = [f for view, _ in registry.transforms(resolved) for f in view.request_fields]
    missing = [c for c in (*keys, timestamp, *fields) if c not in table.column_names]
    if missing:
        raise ConfigError(
            f"train.features {service!r} needs column(s) {', '.join(missing)} in the dataset",
            fix="ingest the entity keys, the row timestamp and the on-demand views' request "
            "fields with the training data",
        )
    say(f"joining feature service {service} point in time on {timestamp}")
    rows = table.select(list(dict.fromkeys([*keys, timestamp, *fields]))).to_pandas()
    frame = get_historical_features(
        rows, service, registry=registry, project=project, timestamp=timestamp
    )
    columns: dict[str, str] = frame.attrs["feature_columns"]
    joined = table
    added = {}
    for column in columns:
        if column in joined.column_names:
            raise ConfigError(
                f"feature {columns[column]} would replace the dataset column {column!r}",
                fix="rename the feature or the dataset column",
            )
        values = pa.array(frame[column].to_numpy(), from_pandas=True)
        added[column] = values
        joined = joined.append_column(column, values)
    features = pa.table(added)
    schema = infer_schema(features, profile_table(features))["columns"]
    dumped = project.spec.model_dump(mode="json")
    definitions = {
        "entities": {
            name: {"join_keys": list(registry.entities[name].join_keys)}
            for name in {view.entity for view, _ in fetched}
        },
        "feature_views": {view.name: dumped["feature_views"][view.name] for view, _ in fetched},
        "on_demand_views": {
            view.name: dumped["on_demand_views"][view.name]
            for view, _ in registry.transforms(resolved)
        },
    }
    lineage = {
        "service": service,
        "timestamp": timestamp,
        "keys": keys,
        "views": dict(frame.attrs["feature_views"]),
        "columns": dict(columns),
        "definitions": definitions,
    }
    return TrainingFeatures(joined, [*keys, timestamp], schema, lineage)


def rejoin_features(project: Project, table: pa.Table, lineage: dict[str, Any]) -> pa.Table:
    """``table`` (the training dataset) with the features a model was trained on, rebuilt
    from its recorded definitions and the dataset versions its views read then."""
    import pyarrow as pa

    from forgeml.config import Spec
    from forgeml.data.versions import dataset

    refs = list(lineage["columns"].values())
    spec = Spec.model_validate({**lineage["definitions"], "feature_services": {"_": refs}})
    registry = FeatureRegistry.from_spec(spec)
    tables: dict[str, Any] = {}
    for name, ref in lineage["views"].items():
        if not name.startswith("query:"):
            version = dataset(ref, project=project)
            tables[name] = str(project.artifacts.local_path(version.artifact_sha256))
    fields = [
        f for view, _ in registry.transforms(registry.resolve(refs)) for f in view.request_fields
    ]
    wanted = dict.fromkeys([*lineage["keys"], lineage["timestamp"], *fields])
    rows = table.select(list(wanted)).to_pandas()
    frame = get_historical_features(
        rows,
        refs,
        registry=registry,
        project=project,
        tables=tables,
        timestamp=lineage["timestamp"],
    )
    for column in lineage["columns"]:
        values = pa.array(frame[column].to_numpy(), from_pandas=True)
        table = table.append_column(column, values)
    return table
