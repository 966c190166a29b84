"""The feature store: entities, feature views, point-in-time joins and online stores.

Definitions live in ``forgeml.yaml`` (or Python); :func:`get_historical_features` builds
point-in-time correct training sets with DuckDB; ``forgeml features materialize`` pushes the
latest values to an online store (SQLite or Redis) that serving reads by entity key.
"""

from forgeml.featurestore.definitions import (
    Aggregation,
    Column,
    Entity,
    FeatureRegistry,
    FeatureView,
)
from forgeml.featurestore.offline import get_historical_features
from forgeml.featurestore.on_demand import OnDemandView, on_demand_view

__all__ = [
    "Aggregation",
    "Column",
    "Entity",
    "FeatureRegistry",
    "FeatureView",
    "OnDemandView",
    "get_historical_features",
    "on_demand_view",
]
