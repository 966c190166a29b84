"""Feast's side, run with Feast's own interpreter: historical | online."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _measure import ready, report


def store_for(data: Path, repo: Path, offline: str, redis: str | None, views: int):  # type: ignore[no-untyped-def]
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    meta = json.loads((data / "meta.json").read_text())
    repo.mkdir(parents=True, exist_ok=True)
    online = (
        {"type": "redis", "connection_string": redis}
        if redis
        else {"type": "sqlite", "path": str(repo / "online.db")}
    )
    config = RepoConfig(
        project="fgbench",
        registry=str(repo / "registry.db"),
        provider="local",
        offline_store={"type": offline},
        online_store=online,
        entity_key_serialization_version=3,
        repo_path=str(repo),
    )
    store = FeatureStore(config=config)
    entity = Entity(name="entity", join_keys=["entity_id"])
    fviews = [
        FeatureView(
            name=f"v{i}",
            entities=[entity],
            ttl=timedelta(days=meta["ttl_days"]),
            schema=[Field(name=f"v{i}_a", dtype=Float64), Field(name=f"v{i}_b", dtype=Float64)],
            source=FileSource(
                path=str(data / f"v{i}.parquet"),
                timestamp_field="ts",
                created_timestamp_column="created",
            ),
        )
        for i in range(views)
    ]
    store.apply([entity, *fviews])
    return store, meta


def historical(data: Path, repo: Path, offline: str, out: Path) -> None:
    import pandas as pd

    meta = json.loads((data / "meta.json").read_text())
    store, meta = store_for(data, repo, offline, None, meta["views"])
    features = [f"v{i}:v{i}_{c}" for i in range(meta["views"]) for c in "ab"]
    began = ready()
    rows = pd.read_parquet(data / "entity_rows.parquet")
    frame = store.get_historical_features(entity_df=rows, features=features).to_df()
    wall = time.perf_counter() - began
    frame = frame.sort_values("row_id").drop(columns=["entity_id", "event_timestamp"])
    frame.to_parquet(out, index=False)
    report(wall, rows=len(frame))


def online(data: Path, repo: Path, redis: str, requests: int, views: int) -> None:
    from datetime import datetime

    meta = json.loads((data / "meta.json").read_text())
    store, meta = store_for(data, repo, "file", redis, views)
    store.materialize(datetime(2023, 12, 1), datetime(2024, 1, 31))
    features = [f"v{i}:v{i}_{c}" for i in range(views) for c in "ab"]
    for k in range(200):
        store.get_online_features(
            features=features, entity_rows=[{"entity_id": k % meta["entities"]}]
        )
    began = ready()
    latencies = []
    for k in range(requests):
        t = time.perf_counter()
        store.get_online_features(
            features=features, entity_rows=[{"entity_id": k % meta["entities"]}]
        ).to_dict()
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - began
    latencies.sort()
    sample = store.get_online_features(features=features, entity_rows=[{"entity_id": 1}]).to_dict()
    report(
        wall,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        sample={k: v[0] for k, v in sample.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["historical", "online"])
    parser.add_argument("data", type=Path)
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--offline", default="file")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--redis")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--views", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "historical":
        historical(args.data, args.repo, args.offline, args.out)
    else:
        online(args.data, args.repo, args.redis, args.requests, args.views)


if __name__ == "__main__":
    main()
