"""Benchmark: ``/predict`` by entity key end to end, features fetched from the online store.

The fraud example (``examples/fraud``: 2 feature views, 6 windowed features) is trained on
its feature service, materialized into SQLite and into Redis, and served by
``forgeml serve``; one keep-alive connection sends the same request, entity keys and the
payment amount only, over and over, and every answer's latency is recorded (send to last
byte). Beside it, in the same run: the same lookup the server makes (the model version's
``ServedFeatures``), alone in-process, for the same entity. No target applies to the
end-to-end figure; the bare lookup's is ``features/run.py``'s (p99 ≤ 2 ms).

    .venv/bin/python benchmarks/features/predict_e2e.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "serving"))
from loadgen import build_request, run_load  # noqa: E402
from servers import Server, free_port, post_json  # noqa: E402

from _measure import ISOLATING_ENV, installed_versions, load_average, machine_facts  # noqa: E402

EXAMPLE = HERE.parents[1] / "examples" / "fraud"
REDIS = "redis://127.0.0.1:6379/13"
MODEL = "transactions"


def build_project(root: Path, days: int, redis_url: str) -> dict[str, Any]:
    """The fraud example trained, its champion's features materialized; one request."""
    import pandas as pd

    from forgeml.data import ingest
    from forgeml.featurestore.materialize import materialize
    from forgeml.featurestore.online import open_online_store
    from forgeml.project import Project
    from forgeml.training.trainer import train

    shutil.copy(EXAMPLE / "forgeml.yaml", root / "forgeml.yaml")
    spec = importlib.util.spec_from_file_location("fraud_generate", EXAMPLE / "generate.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {EXAMPLE / 'generate.py'}")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.main([str(root / "data"), "--days", str(days)])
    with Project.init(root) as project:
        for name in ("transactions", "chargebacks"):
            ingest(str(root / "data" / f"{name}.parquet"), name=name, project=project)
        result = train(project=project, trials=2, time_budget="60s")
        if result.model is None:
            raise SystemExit(f"the fraud model was not registered: {result.gate}")
        with open_online_store(f"sqlite:///{project.state_dir / 'online.db'}") as store:
            materialize(project=project, store=store)
        with open_online_store(redis_url) as store:
            materialize(project=project, store=store)
    rows = pd.read_parquet(root / "data" / "transactions.parquet")
    busy = rows["customer_id"].value_counts().index[0]
    shop = rows[rows["customer_id"] == busy]["merchant_id"].iloc[-1]
    keys = {"customer_id": int(busy), "merchant_id": shop.item() if hasattr(shop, "item") else shop}
    return {"keys": keys}


def bare_lookup(root: Path, url: str, keys: dict[str, Any], requests: int) -> tuple[float, float]:
    """p50 and p99 (ms) of the in-process lookup the server makes, for the same entity."""
    from forgeml.featurestore.serving import ServedFeatures
    from forgeml.project import Project
    from forgeml.registry import model_version

    with Project.load(root) as project:
        lineage = model_version(f"{MODEL}@champion", project=project).lineage["features"]
    served = ServedFeatures(lineage, url)
    try:
        for _ in range(200):
            served.lookup.get(keys)
        latencies = []
        for _ in range(requests):
            t = time.perf_counter()
            served.lookup.get(keys)
            latencies.append(time.perf_counter() - t)
    finally:
        served.close()
    latencies.sort()
    return statistics.median(latencies) * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3


def serve(root: Path, work: Path, url: str, name: str) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATING_ENV}
    env["FORGEML_PROJECT"] = str(root)
    env["FORGEML_ONLINE_URL"] = url
    port = free_port()
    argv = [sys.executable, "-m", "forgeml.cli", "serve", MODEL, "--port", str(port)]
    return Server(name, argv, env, port, "/ready", work / f"{name}.log")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds each")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--days", type=int, default=20, help="days of generated payments")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print("\n".join(machine_facts(installed_versions("forgeml", "redis", "hiredis"))))
    print(f"load     : 1-minute load average {load_average()} before the first job")
    redis_url = f"{REDIS}?prefix=bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-features-e2e-") as folder:
        work = Path(folder)
        root = work / "fraud"
        root.mkdir()
        found = build_project(root, args.days, redis_url)
        keys = found["keys"]
        stores = {
            "sqlite": f"sqlite:///{root / '.forgeml' / 'online.db'}",
            "redis": redis_url,
        }
        print(f"request  : POST /predict {json.dumps({**keys, 'amount': 42.0})}, 1 connection")
        print()
        header = f"{'online store':<13} {'path':<34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}"
        print(header)
        print("-" * len(header))
        try:
            for store, url in stores.items():
                p50, p99 = bare_lookup(root, url, keys, 5000)
                print(f"{store:<13} {'lookup alone (in process)':<34} {p50:>8.3f} {p99:>8.3f}")
                server = serve(root, work, url, f"forgeml-{store}")
                server.start()
                try:
                    by_key = json.dumps({**keys, "amount": 42.0}).encode()
                    status, answer = post_json(server.port, "/predict", by_key)
                    if status != 200:
                        raise SystemExit(f"/predict answered {status}: {answer}")
                    result = run_load(
                        server.port,
                        build_request("/predict", by_key, server.port),
                        concurrency=1,
                        seconds=args.seconds,
                        warmup=args.warmup,
                        cpu=None,
                        work=work,
                    )
                    if result.errors:
                        raise SystemExit(f"{result.errors} errors: {result.first_error}")
                    label = "/predict by entity key (HTTP)"
                    print(
                        f"{store:<13} {label:<34} {result.p50_us / 1e3:>8.3f} "
                        f"{result.p99_us / 1e3:>8.3f} {result.rps:>8.0f}"
                    )
                finally:
                    server.stop()
        finally:
            from forgeml.featurestore.online import open_online_store

            with open_online_store(redis_url) as store:
                store.clear()  # type: ignore[attr-defined]
    print(f"load     : 1-minute load average {load_average()} after the last job")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
