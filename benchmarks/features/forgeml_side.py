"""forgeml's side, run as a child process: historical | materialize | online."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _measure import ready, report


def registry(meta: dict, data: Path, views: int | None = None):  # type: ignore[no-untyped-def]
    from forgeml.featurestore import Entity, FeatureRegistry, FeatureView

    count = views or meta["views"]
    return FeatureRegistry(
        [Entity("entity", ["entity_id"])],
        [
            FeatureView(
                f"v{i}",
                entity="entity",
                source=f"v{i}",
                timestamp="ts",
                created_timestamp="created",
                ttl=f"{meta['ttl_days']}d",
                features=[f"v{i}_a", f"v{i}_b"],
            )
            for i in range(count)
        ],
    ), {f"v{i}": str(data / f"v{i}.parquet") for i in range(count)}


def historical(data: Path, out: Path, memory_limit: str | None) -> None:
    import pandas as pd

    from forgeml.featurestore import get_historical_features

    meta = json.loads((data / "meta.json").read_text())
    reg, tables = registry(meta, data)
    refs = [f"v{i}" for i in range(meta["views"])]
    began = ready()
    rows = pd.read_parquet(data / "entity_rows.parquet")
    frame = get_historical_features(
        rows, refs, registry=reg, tables=tables, memory_limit=memory_limit
    )
    wall = time.perf_counter() - began
    frame.drop(columns=["entity_id", "event_timestamp"]).to_parquet(out, index=False)
    report(wall, rows=len(frame))


def materialize(data: Path, online: str) -> None:
    from forgeml.featurestore import Entity, FeatureRegistry, FeatureView
    from forgeml.featurestore.materialize import materialize as run
    from forgeml.featurestore.online import open_online_store

    reg = FeatureRegistry(
        [Entity("entity", ["entity_id"])],
        [
            FeatureView(
                "stream",
                entity="entity",
                source="stream",
                timestamp="ts",
                ttl="1d",
                features=["value"],
            )
        ],
    )
    store = open_online_store(online)
    began = ready()
    done = run(
        registry=reg,
        store=store,
        tables={"stream": str(data / "stream.parquet")},
        end="2024-03-01",
        chunk="2d",
        memory_limit="256MB",
    )
    wall = time.perf_counter() - began
    store.close()
    report(wall, rows=done[0].rows, chunks=done[0].chunks)


def online(data: Path, url: str, requests: int, views: int) -> None:
    from forgeml.featurestore.lookup import OnlineFeatures
    from forgeml.featurestore.materialize import materialize as run
    from forgeml.featurestore.online import open_online_store

    meta = json.loads((data / "meta.json").read_text())
    reg, tables = registry(meta, data, views)
    store = open_online_store(url)
    run(registry=reg, store=store, tables=tables, end="2024-01-31")
    lookup = OnlineFeatures(reg, [f"v{i}" for i in range(views)], store)  # resolved once
    ids = [int(i) for i in range(requests)]
    now = "2024-01-31"
    for k in ids[:200]:  # warm up
        lookup.get({"entity_id": k % meta["entities"]}, now=now)
    began = ready()
    latencies = []
    for k in ids:
        t = time.perf_counter()
        lookup.get({"entity_id": k % meta["entities"]}, now=now)
        latencies.append(time.perf_counter() - t)
    wall = time.perf_counter() - began
    sample = lookup.get({"entity_id": 1}, now=now)
    store.close()
    half = len(latencies) // 2
    first, second = sorted(latencies[:half]), sorted(latencies[half:])  # in request order
    latencies.sort()
    report(
        wall,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        p99_first_half_ms=first[int(len(first) * 0.99)] * 1000,
        p99_second_half_ms=second[int(len(second) * 0.99)] * 1000,
        sample=sample,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["historical", "materialize", "online"])
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--memory-limit")
    parser.add_argument("--url")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--views", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "historical":
        historical(args.data, args.out, args.memory_limit)
    elif args.mode == "materialize":
        materialize(args.data, args.url)
    else:
        online(args.data, args.url, args.requests, args.views)


if __name__ == "__main__":
    main()
