"""Entities, feature views and feature services: what features exist and where they come from.

They are declared in ``forgeml.yaml`` (``entities:``, ``feature_views:``,
``feature_services:``) or built in Python; :class:`FeatureRegistry` holds one set and turns
references such as ``spend:amount`` into the views and features to join:

>>> registry = FeatureRegistry(
...     entities=[Entity("customer", ["customer_id"])],
...     views=[
...         FeatureView(
...             "spend", entity="customer", source="transactions", timestamp="ts", ttl="30d",
...             features=["amount", Aggregation("amount_sum_7d", "sum", of="amount", window="7d")],
...         )
...     ],
...     services={"fraud": ["spend:amount", "spend:amount_sum_7d"]},
... )
>>> [(view.name, [f.name for f in features]) for view, features in registry.resolve("fraud")]
[('spend', ['amount', 'amount_sum_7d'])]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from forgeml.config import AggregationSpec, Spec, parse_spec
from forgeml.errors import ConfigError
from forgeml.featurestore.on_demand import OnDemandView, Output

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "Column",
    "Entity",
    "Feature",
    "FeatureRegistry",
    "FeatureView",
    "Fetched",
    "parse_window",
]

AGGREGATIONS = ("count", "sum", "mean", "min", "max", "last")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW = re.compile(r"^([1-9][0-9]*)([smhdw])$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_window(text: str) -> timedelta:
    """``30s``, ``10m``, ``1h``, ``30d`` or ``2w`` as a duration.

    >>> parse_window("1h"), parse_window("30d").days
    (datetime.timedelta(seconds=3600), 30)
    """
    match = _WINDOW.match(str(text).strip())
    if not match:
        raise ConfigError(f"{text!r} is not a time window", fix="write e.g. 30s, 10m, 1h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class Entity:
    """A thing features describe, identified by its join key columns."""

    name: str
    join_keys: Sequence[str]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.join_keys:
            raise ConfigError(f"entity {self.name!r} has no join keys", fix="name its key columns")


@dataclass(frozen=True)
class Column:
    """A feature that is a source column, as of the latest row before each timestamp."""

    name: str

    @property
    def column(self) -> str:
        return self.name


@dataclass(frozen=True)
class Aggregation:
    """``agg`` of column ``of`` over the rows in the ``window`` up to each timestamp.

    The window ``(t - window, t]`` holds the rows at ``t`` itself; ``count`` without ``of``
    counts rows, with it non-null values; ``last`` is the latest non-null value. An empty
    window gives 0 for ``count`` and null for the others.
    """

    name: str
    agg: str
    of: str | None = None
    window: str = "1d"

    def __post_init__(self) -> None:
        if self.agg not in AGGREGATIONS:
            raise ConfigError(
                f"feature {self.name!r}: unknown aggregation {self.agg!r}",
                fix=f"use one of {', '.join(AGGREGATIONS)}",
            )
        if self.agg != "count" and not self.of:
            raise ConfigError(
                f"feature {self.name!r}: {self.agg} needs 'of'", fix="name the column it aggregates"
            )
        parse_window(self.window)

    @property
    def span(self) -> timedelta:
        return parse_window(self.window)


Feature = Column | Aggregation


@dataclass(frozen=True)
class FeatureView:
    """Time-stamped features of one entity from one source (a dataset or a DuckDB query)."""

    name: str
    entity: str
    timestamp: str
    features: Sequence[str | Feature]
    source: str | None = None
    query: str | None = None
    created_timestamp: str | None = None
    ttl: str | None = None
    description: str = ""
    parsed: tuple[Feature, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.source is None) == (self.query is None):
            raise ConfigError(
                f"feature view {self.name!r} needs exactly one of source and query",
                fix="name a dataset with source=..., or give a DuckDB query with query=...",
            )
        parsed = tuple(Column(f) if isinstance(f, str) else f for f in self.features)
        if not parsed:
            raise ConfigError(f"feature view {self.name!r} has no features", fix="list some")
        for feature in parsed:
            if not _IDENTIFIER.match(feature.name):
                raise ConfigError(
                    f"feature view {self.name!r}: {feature.name!r} is not a valid feature name",
                    fix="use letters, digits and '_', starting with a letter or '_'",
                )
        names = [f.name for f in parsed]
        if len(set(names)) != len(names):
            raise ConfigError(f"feature view {self.name!r} lists a feature twice", fix="rename one")
        if self.ttl is not None:
            parse_window(self.ttl)
        object.__setattr__(self, "parsed", parsed)

    @property
    def ttl_span(self) -> timedelta | None:
        return parse_window(self.ttl) if self.ttl else None

    @property
    def columns(self) -> list[Column]:
        return [f for f in self.parsed if isinstance(f, Column)]

    @property
    def aggregations(self) -> list[Aggregation]:
        return [f for f in self.parsed if isinstance(f, Aggregation)]

    def feature(self, name: str) -> Feature:
        for feature in self.parsed:
            if feature.name == name:
                return feature
        raise ConfigError(
            f"feature view {self.name!r} has no feature {name!r}",
            fix=f"use one of {', '.join(f.name for f in self.parsed)}",
        )


Resolved = list[tuple[FeatureView | OnDemandView, list[Feature | Output]]]
Fetched = list[tuple[FeatureView, list[Feature]]]


class FeatureRegistry:
    """One project's entities, views and services; resolves feature references.

    ``views`` takes feature views and on-demand views; they are kept apart in the ``views``
    attribute (joined and materialized) and ``on_demand`` (computed when asked for).
    """

    def __init__(
        self,
        entities: Iterable[Entity] = (),
        views: Iterable[FeatureView | OnDemandView] = (),
        services: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.entities = {e.name: e for e in entities}
        listed = list(views)
        self.views = {v.name: v for v in listed if isinstance(v, FeatureView)}
        self.on_demand = {v.name: v for v in listed if isinstance(v, OnDemandView)}
        self.services = {k: list(v) for k, v in (services or {}).items()}
        for view in self.views.values():
            if view.entity not in self.entities:
                raise ConfigError(
                    f"feature view {view.name!r} names unknown entity {view.entity!r}",
                    fix=f"declare it, or use one of {', '.join(self.entities) or '(none)'}",
                )
        for name, transform in self.on_demand.items():
            if name in self.views:
                raise ConfigError(
                    f"{name!r} is both a feature view and an on-demand view", fix="rename one"
                )
            for view_name, feature in transform.view_inputs:
                if view_name in self.on_demand:
                    raise ConfigError(
                        f"on-demand view {name!r} takes input {view_name}:{feature} from "
                        "another on-demand view",
                        fix="take the feature views' features it is computed from instead",
                    )
                self.view(view_name).feature(feature)
        for name in self.services:
            self.resolve(name)  # every reference must name a view and feature

    @classmethod
    def from_spec(cls, spec: Spec | str) -> FeatureRegistry:
        """The definitions in a validated spec (or in spec text)."""
        if isinstance(spec, str):
            spec = parse_spec(spec)
        entities = [
            Entity(name, list(e.join_keys), e.description) for name, e in spec.entities.items()
        ]
        views: list[FeatureView | OnDemandView] = [
            FeatureView(
                name,
                entity=v.entity,
                timestamp=v.timestamp,
                features=[_feature(f) for f in v.features],
                source=v.source,
                query=v.query,
                created_timestamp=v.created_timestamp,
                ttl=v.ttl,
                description=v.description,
            )
            for name, v in spec.feature_views.items()
        ]
        views += [
            OnDemandView(name, v.function, dict(v.inputs), dict(v.features), v.description)
            for name, v in spec.on_demand_views.items()
        ]
        return cls(entities, views, spec.feature_services)

    def view(self, name: str) -> FeatureView:
        if name not in self.views:
            raise ConfigError(
                f"no feature view named {name!r}",
                fix=f"declare it under feature_views:, or use one of {', '.join(self.views)}"
                if self.views
                else "declare it under feature_views: in forgeml.yaml",
            )
        return self.views[name]

    def join_keys(self, view: FeatureView | OnDemandView) -> list[str]:
        """The entity's key columns; for an on-demand view those of the views it reads."""
        if isinstance(view, OnDemandView):
            inputs = [self.views[name] for name, _ in view.view_inputs]
            return list(dict.fromkeys(k for v in inputs for k in self.join_keys(v)))
        return list(self.entities[view.entity].join_keys)

    def fetched(self, resolved: Resolved) -> Fetched:
        """The feature views to read for ``resolved``: the features asked for, then those
        that on-demand views take as inputs."""
        chosen: dict[str, list[Feature]] = {}
        for view, features in resolved:
            if isinstance(view, FeatureView):
                bucket = chosen.setdefault(view.name, [])
                bucket.extend(f for f in features if isinstance(f, Column | Aggregation))
        for view, _ in resolved:
            if isinstance(view, OnDemandView):
                for name, feature_name in view.view_inputs:
                    feature = self.views[name].feature(feature_name)
                    bucket = chosen.setdefault(name, [])
                    if feature not in bucket:
                        bucket.append(feature)
        return [(self.views[name], features) for name, features in chosen.items()]

    @staticmethod
    def transforms(resolved: Resolved) -> list[tuple[OnDemandView, list[Output]]]:
        """The on-demand views in ``resolved``, each with the features asked of it."""
        return [
            (view, [f for f in features if isinstance(f, Output)])
            for view, features in resolved
            if isinstance(view, OnDemandView)
        ]

    def resolve(self, features: str | Sequence[str]) -> Resolved:
        """A service name, or references ``view:feature`` / ``view`` (all its features), as
        the views to join, each with its features in the order asked."""
        if isinstance(features, str):
            if features in self.services:
                refs = self.services[features]
            elif ":" in features or features in self.views or features in self.on_demand:
                refs = [r for r in features.split(",") if r]
            else:
                raise ConfigError(
                    f"no feature service named {features!r}",
                    fix=f"use one of {', '.join(self.services)}"
                    if self.services
                    else "declare it under feature_services:, or pass view:feature references",
                )
        else:
            refs = list(features)
        chosen: dict[str, list[Feature | Output]] = {}
        found: dict[str, FeatureView | OnDemandView] = {}
        for ref in refs:
            view_name, _, feature_name = ref.strip().partition(":")
            view = self.on_demand.get(view_name) or self.view(view_name)
            picked: list[Feature | Output] = (
                [view.feature(feature_name)] if feature_name else list(view.parsed)
            )
            bucket = chosen.setdefault(view_name, [])
            bucket.extend(f for f in picked if f not in bucket)
            found[view_name] = view
        if not chosen:
            raise ConfigError("no features were asked for", fix="name a service or view:feature")
        return [(found[name], feats) for name, feats in chosen.items()]


def _feature(spec: str | AggregationSpec) -> str | Feature:
    if isinstance(spec, str):
        return spec
    return Aggregation(spec.name, spec.agg, of=spec.of, window=spec.window)
