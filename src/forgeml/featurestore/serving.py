"""Serving by entity key: a request's records get their features from the online store.

A model trained on a feature service carries the definitions it was trained with; the lookup
is built once when the model is loaded, and each request costs one online store round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from forgeml.config import Spec
from forgeml.errors import InputRejected
from forgeml.featurestore.definitions import FeatureRegistry
from forgeml.featurestore.lookup import OnlineFeatures
from forgeml.featurestore.online import online_url, open_online_store

if TYPE_CHECKING:
    from forgeml.project import Project

__all__ = ["ServedFeatures", "served_features"]


class ServedFeatures:
    """Adds a model's features to request records, looked up by their entity keys."""

    def __init__(self, lineage: Mapping[str, Any], url: str) -> None:
        spec = Spec.model_validate(
            {**lineage["definitions"], "feature_services": {"_": list(lineage["columns"].values())}}
        )
        registry = FeatureRegistry.from_spec(spec)
        self.store = open_online_store(url)
        self.lookup = OnlineFeatures(
            registry, list(lineage["columns"].values()), self.store, names=lineage["columns"]
        )
        self.keys: tuple[str, ...] = tuple(lineage["keys"])
        self.names = list(lineage["columns"])

    def enrich(self, payload: Any) -> Any:
        """The payload with each record's features filled in from the online store."""
        if isinstance(payload, Mapping) and "records" in payload:
            return {**payload, "records": self._records(payload["records"])}
        if isinstance(payload, Mapping) and "columns" in payload:
            columns = payload["columns"]
            if not isinstance(columns, Mapping) or not columns:
                return payload
            count = max(len(v) if isinstance(v, list) else 0 for v in columns.values())
            rows = [
                {k: v[i] for k, v in columns.items() if isinstance(v, list) and i < len(v)}
                for i in range(count)
            ]
            return self._records(rows)
        if isinstance(payload, Mapping):
            return self._records([payload])[0]
        if isinstance(payload, list):
            return self._records(payload)
        return payload

    def _records(self, records: Any) -> Any:
        if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
            return records  # the input checks say what is wrong
        if not records:
            return records
        missing = [
            {"field": key, "row": i, "problem": "is missing: the model looks its features up by it"}
            for i, record in enumerate(records)
            for key in self.keys
            if record.get(key) is None
        ]
        if missing:
            raise InputRejected(missing, fix=f"send the entity keys {', '.join(self.keys)}")
        found = self.lookup.get_many(records)
        return [{**record, **values} for record, values in zip(records, found, strict=True)]

    def close(self) -> None:
        self.store.close()


def served_features(lineage: Mapping[str, Any], project: Project | None) -> ServedFeatures | None:
    """The lookup for a model version trained on a feature service; None for other models."""
    features = lineage.get("features")
    if not features:
        return None
    return ServedFeatures(features, online_url(project))
