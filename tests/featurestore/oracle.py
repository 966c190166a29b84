"""A brute-force point-in-time join, one entity row at a time, to check the DuckDB one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from forgeml.featurestore.definitions import Aggregation, FeatureView


def utc_naive(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values.astype("datetime64[us]")


def _candidates(
    source: pd.DataFrame, view: FeatureView, keys: list[str], row: pd.Series, at: Any, known: bool
) -> pd.DataFrame:
    rows = source.assign(__pos=np.arange(len(source)))
    rows["__ts"] = utc_naive(rows[view.timestamp])
    created = view.created_timestamp
    rows["__created"] = utc_naive(rows[created]) if created else pd.NaT
    rows = rows[rows["__ts"].notna()]
    for key in keys:
        if pd.isna(row[key]):
            return rows.iloc[0:0]
        rows = rows[rows[key] == row[key]]
    rows = rows[rows["__ts"] <= at]
    if known:
        rows = rows[rows["__created"].fillna(rows["__ts"]) <= at]
    # created NaT sorts lowest, then later source rows win
    rank = rows["__created"].fillna(pd.Timestamp("1900-01-01").as_unit("us"))
    return rows.assign(__rank=rank).sort_values(["__ts", "__rank", "__pos"])


def oracle(
    entity_df: pd.DataFrame,
    source: pd.DataFrame,
    view: FeatureView,
    keys: list[str],
    timestamp: str,
    known: bool = False,
) -> dict[str, list[Any]]:
    """Each feature of ``view`` for each entity row, by the definition in the docs."""
    out: dict[str, list[Any]] = {f.name: [] for f in view.parsed}
    stamps = utc_naive(pd.Series(entity_df[timestamp]))
    for i in range(len(entity_df)):
        row, at = entity_df.iloc[i], stamps.iloc[i]
        if pd.isna(at):
            for feature in view.parsed:
                out[feature.name].append(0 if _is_count(feature) else None)
            continue
        rows = _candidates(source, view, keys, row, at, known)
        latest = rows
        if view.ttl_span is not None:
            latest = rows[rows["__ts"] >= at - view.ttl_span]
        for feature in view.parsed:
            if isinstance(feature, Aggregation):
                out[feature.name].append(_aggregate(feature, rows, at, view))
            else:
                value = latest[feature.name].iloc[-1] if len(latest) else None
                out[feature.name].append(None if pd.isna(value) else value)
    return out


def _is_count(feature: Any) -> bool:
    return isinstance(feature, Aggregation) and feature.agg == "count"


def _aggregate(feature: Aggregation, rows: pd.DataFrame, at: Any, view: FeatureView) -> Any:
    rows = rows[rows["__ts"] > at - feature.span]
    if view.created_timestamp:  # corrections of one fact: the latest visible one counts
        rows = rows.groupby("__ts", sort=True).tail(1)
    if feature.agg == "count" and feature.of is None:
        return len(rows)
    values = rows[feature.of].dropna()
    if feature.agg == "count":
        return len(values)
    if values.empty:
        return None
    if feature.agg == "sum":
        return float(values.sum())
    if feature.agg == "mean":
        return float(values.mean())
    if feature.agg == "min":
        return values.min()
    if feature.agg == "max":
        return values.max()
    return values.iloc[-1]  # last: rows are sorted by time, created time, position
