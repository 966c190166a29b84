"""Online feature lookup: references resolved once, then one store round trip per request.

>>> import tempfile, pandas as pd
>>> from forgeml.featurestore.definitions import Entity, FeatureRegistry, FeatureView
>>> from forgeml.featurestore.materialize import materialize
>>> from forgeml.featurestore.online.sqlite import SQLiteOnlineStore
>>> registry = FeatureRegistry(
...     [Entity("customer", ["customer_id"])],
...     [FeatureView("spend", entity="customer", source="tx", timestamp="ts",
...                  features=["amount"])],
... )
>>> tx = pd.DataFrame({"customer_id": [1, 1], "amount": [5.0, 7.0],
...                    "ts": pd.to_datetime(["2024-01-01", "2024-01-03"])})
>>> store = SQLiteOnlineStore(tempfile.mkdtemp() + "/online.db")
>>> _ = materialize(registry=registry, store=store, tables={"tx": tx}, end="2024-01-04")
>>> OnlineFeatures(registry, "spend:amount", store).get({"customer_id": 1})
{'amount': 7.0}
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from forgeml.errors import InputRejected
from forgeml.featurestore.definitions import Aggregation, FeatureRegistry
from forgeml.featurestore.materialize import WINDOWS_SUFFIX, micros, to_utc_naive
from forgeml.featurestore.offline import output_names
from forgeml.featurestore.online.base import OnlineStore, encode_key

__all__ = ["OnlineFeatures"]


@dataclass(frozen=True)
class _Part:
    """One record to read per request: a view's columns or its aggregations."""

    target: str  # the online store's name for it
    keys: tuple[str, ...]
    ttl_us: int | None  # None: never stale
    fields: tuple[tuple[str, str, Any], ...]  # (name in the record, output name, default)


class OnlineFeatures:
    """The features of a service (or references) for entity keys, from an online store.

    On-demand views are computed from the fetched features and the request's fields
    (the entity mappings passed to :meth:`get_many` carry them), all entities at once.
    """

    def __init__(
        self,
        registry: FeatureRegistry,
        features: str | Sequence[str],
        store: OnlineStore,
        *,
        names: Mapping[str, str] | None = None,
    ) -> None:
        """``names`` maps output names to ``view:feature`` (as training recorded them)."""
        self.store = store
        resolved = registry.resolve(features)
        if names is None:
            chosen = output_names([], resolved)
        else:
            chosen = {tuple(ref.split(":", 1)): out for out, ref in names.items()}  # type: ignore[misc]
        self.transforms = [
            (view, [(f.name, chosen[(view.name, f.name)]) for f in outputs])
            for view, outputs in registry.transforms(resolved)
        ]
        parts: list[_Part] = []
        keys: list[str] = []
        for view, picked in registry.fetched(resolved):
            view_keys = tuple(registry.join_keys(view))
            keys.extend(k for k in view_keys if k not in keys)
            plain = [f for f in picked if not isinstance(f, Aggregation)]
            windowed = [f for f in picked if isinstance(f, Aggregation)]
            ttl = view.ttl_span
            for target, group, ttl_us in (
                (view.name, plain, micros_of(ttl) if ttl else None),
                (view.name + WINDOWS_SUFFIX, windowed, None),
            ):
                if group:
                    fields = tuple(
                        (f.name, _named(chosen, view.name, f.name), _empty(f)) for f in group
                    )
                    parts.append(_Part(target, view_keys, ttl_us, fields))
        self.parts = parts
        self.keys = keys
        self.names = [chosen[(view.name, f.name)] for view, picked in resolved for f in picked]
        asked = set(self.names)
        self._hidden = [o for part in parts for _, o, _ in part.fields if o not in asked]
        self._found = {  # (view, feature) -> its name in a fetched row
            (part.target.removesuffix(WINDOWS_SUFFIX), name): output
            for part in parts
            for name, output, _ in part.fields
        }

    def get(self, entity: Mapping[str, Any], now: datetime | str | None = None) -> dict[str, Any]:
        """The features of one entity (its join keys in ``entity``), as of ``now``."""
        return self.get_many([entity], now)[0]

    def get_many(
        self, entities: Sequence[Mapping[str, Any]], now: datetime | str | None = None
    ) -> list[dict[str, Any]]:
        """The features of several entities, all in one round trip."""
        at = micros(to_utc_naive(now)) if now is not None else _now_us()
        refs = []
        for i, entity in enumerate(entities):
            encoded: dict[tuple[str, ...], str] = {}  # views of one entity share its key
            for part in self.parts:
                key = encoded.get(part.keys)
                if key is None:
                    try:
                        key = encoded[part.keys] = encode_key([entity[k] for k in part.keys])
                    except KeyError as e:
                        raise InputRejected(
                            [{"field": str(e.args[0]), "problem": f"is missing (entity {i})"}],
                            fix=f"send the entity's join keys: {', '.join(self.keys)}",
                        ) from None
                refs.append((part.target, key))
        records = self.store.read(refs)
        out = []
        position = 0
        for _ in entities:
            values: dict[str, Any] = {}
            for part in self.parts:
                record = records[position]
                position += 1
                fresh = record is not None and (
                    part.ttl_us is None or record["ts"] >= at - part.ttl_us
                )
                stored = record["v"] if fresh and record is not None else {}
                for name, output, empty in part.fields:
                    values[output] = stored.get(name, empty)
            out.append(values)
        if self.transforms:
            self._compute(entities, out)
        return out

    def _compute(self, entities: Sequence[Mapping[str, Any]], out: list[dict[str, Any]]) -> None:
        """Each on-demand view over all the entities at once; inputs not asked for leave."""
        for view, outputs in self.transforms:
            columns: dict[str, Any] = {}
            for field in view.request_fields:
                missing = [i for i, entity in enumerate(entities) if field not in entity]
                if missing:
                    raise InputRejected(
                        [{"field": field, "row": i, "problem": "is missing"} for i in missing],
                        fix=f"send {field!r}: on-demand view {view.name!r} is computed from it",
                    )
                columns[field] = [entity[field] for entity in entities]
            for name, feature in view.view_inputs:
                found = self._found[(name, feature)]
                columns[feature] = [row[found] for row in out]
            computed = view.compute(columns, len(entities))
            for name, output in outputs:
                values = computed[name]
                listed = values.tolist()
                if values.dtype.kind == "f":
                    listed = [None if v != v else v for v in listed]  # NaN: missing
                for row, value in zip(out, listed, strict=True):
                    row[output] = value
        for row in out:
            for name in self._hidden:
                del row[name]


def _named(chosen: Mapping[tuple[str, str], str], view: str, feature: str) -> str:
    """The output name of a feature; ``view:feature`` for one read only as an input."""
    return chosen.get((view, feature), f"{view}:{feature}")


def _empty(feature: Any) -> Any:
    """The value of a feature with no rows: a count is 0 (as offline), the rest null."""
    return 0 if isinstance(feature, Aggregation) and feature.agg == "count" else None


def micros_of(span: Any) -> int:
    return int(span.total_seconds() * 1_000_000)


def _now_us() -> int:
    return micros(datetime.now(UTC).replace(tzinfo=None))
