"""Benchmark: the web UI's pages on a large store, forgeml vs. MLflow's UI REST calls.

Claim (issue targets): on a store with many runs x 200 params/metrics, a model with many
versions and thousands of monitoring windows, forgeml's server time per page at p95 is
runs first and next page <= 150 ms, compare of 500 runs <= 1 s, model page <= 200 ms,
monitoring page <= 300 ms; server RSS grows <= 50 MB after loading every page type 100
times; and the runs page and model page are >= 10x faster than the calls MLflow's UI makes
for them (``search_runs`` with 100 results; ``get_registered_model`` +
``search_model_versions``) on the same shape of store, same machine, same invocation.

"Server time" is the time from handing the request to the ASGI app until its last body
byte is sent (forgeml), or of the tracking-store call behind the REST endpoint (MLflow):
neither includes HTTP parsing or the network. The store is generated once per backend and
kept under ``benchmarks/.data/ui`` (``--fresh`` rebuilds it).

    .venv/bin/python benchmarks/ui_pages.py                     # 20,000 runs, 200,000 versions
    .venv/bin/python benchmarks/ui_pages.py --quick             # 2,000 runs, 20,000 versions
    .venv/bin/python benchmarks/ui_pages.py --backends sqlite   # skip PostgreSQL

MLflow runs in its own virtual environment (``benchmarks/.venvs/mlflow``, shared with
``tracking_mlflow.py``); its store is filled with the same shape through SQL.
"""

# ruff: noqa: E501  (the MLflow job below is one literal script with long SQL lines)
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data" / "ui"
PG_URL = os.environ.get("FORGEML_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGETS_MS = {"runs": 150, "runs-next": 150, "compare-500": 1000, "model": 200, "monitoring": 300}
RSS_TARGET_MB = 50
RATIO_TARGET = 10.0
SHA = "a" * 64
FEATURES = [f"f{i:02d}" for i in range(20)]


# ---- the synthetic store (forgeml) ------------------------------------------------------


def populate(url: str, runs: int, keys: int, versions: int, windows: int) -> None:
    from sqlalchemy import insert

    from forgeml.store.metastore import MetadataStore
    from forgeml.store.models import (
        AlertRecord,
        AliasEventRecord,
        AliasRecord,
        ArtifactRecord,
        Base,
        CycleRecord,
        ModelRecord,
        ModelVersionRecord,
        MonitorWindowRecord,
        RunRecord,
    )

    rng = random.Random(0)
    store = MetadataStore(url)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    half = keys // 2
    with store.write() as s:
        s.execute(
            insert(ArtifactRecord).values(sha256=SHA, size_bytes=1, kind="model", created_at=start)
        )
        s.execute(insert(ModelRecord).values(id=1, name="bench", created_at=start))
    table = Base.metadata.tables[RunRecord.__tablename__]
    for lo in range(0, runs, 2000):
        rows = []
        for i in range(lo, min(runs, lo + 2000)):
            params: dict[str, Any] = {f"p{k:03d}": rng.random() for k in range(half - 1)}
            params["candidate"] = rng.choice(["lightgbm", "xgboost", "logistic"])
            metrics = {f"m{k:03d}": rng.random() for k in range(half - 1)}
            metrics["roc_auc"] = rng.uniform(0.6, 0.95)
            rows.append(
                {
                    "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "experiment": "bench",
                    "kind": "train",
                    "status": "finished",
                    "dataset_version_id": None,
                    "params": params,
                    "tags": {"owner": "bench"},
                    "metrics": metrics,
                    "code_version": {},
                    "packages": {},
                    "host": "bench",
                    "created_by": "bench",
                    "error": None,
                    "started_at": start + timedelta(seconds=i),
                    "ended_at": start + timedelta(seconds=i + 1),
                    "pid": None,
                    "heartbeat_at": None,
                }
            )
        with store.write() as s:
            s.execute(insert(table), rows)
    vtable = Base.metadata.tables[ModelVersionRecord.__tablename__]
    for lo in range(0, versions, 5000):
        rows = [
            {
                "id": v,
                "model_id": 1,
                "version": v,
                "run_id": None,
                "flavor": "lightgbm",
                "artifact_sha256": SHA,
                "signature": {"inputs": [{"name": f, "kind": "number"} for f in FEATURES[:5]]},
                "metrics": {"test": {"roc_auc": rng.uniform(0.6, 0.95)}},
                "lineage": {"gate": {"passed": rng.random() > 0.2}},
                "card_sha256": None,
                "created_by": "bench",
                "created_at": start + timedelta(minutes=v),
            }
            for v in range(lo + 1, min(versions, lo + 5000) + 1)
        ]
        with store.write() as s:
            s.execute(insert(vtable), rows)
    with store.write() as s:
        s.execute(
            insert(AliasRecord).values(
                model_id=1, alias="champion", model_version_id=versions, updated_at=start
            )
        )
        s.execute(
            insert(Base.metadata.tables[AliasEventRecord.__tablename__]),
            [
                {"model_id": 1, "alias": "champion", "action": "promote", "from_version": v - 1 or None,
                 "to_version": v, "actor": "bench", "reason": "bench", "gate": {"passed": True},
                 "created_at": start + timedelta(minutes=v)}
                for v in range(max(1, versions - 2000), versions + 1)
            ],
        )  # fmt: skip
        s.execute(
            insert(Base.metadata.tables[MonitorWindowRecord.__tablename__]),
            [
                {"model": "bench", "version": versions, "window_start": start + timedelta(hours=w),
                 "window_end": start + timedelta(hours=w + 1), "rows": 1000,
                 "drift_share": rng.random() * 0.3, "drifted": rng.random() > 0.8,
                 "features": {f: {"effect": rng.random() * 0.2, "drifted": rng.random() > 0.9}
                              for f in FEATURES},
                 "metric": "roc_auc", "metric_value": rng.uniform(0.6, 0.9), "labels": 500,
                 "issues": [], "decayed": False, "created_at": start}
                for w in range(windows)
            ],
        )  # fmt: skip
        s.execute(
            insert(Base.metadata.tables[AlertRecord.__tablename__]),
            [
                {"model": "bench", "key": f"drift:{w}", "kind": "drift", "severity": "warning",
                 "message": "drift", "details": {}, "window_start": None, "window_end": None,
                 "created_at": start + timedelta(hours=w), "delivered_at": None, "attempts": 0,
                 "last_error": None}
                for w in range(min(windows, 1000))
            ],
        )  # fmt: skip
        s.execute(
            insert(Base.metadata.tables[CycleRecord.__tablename__]),
            [
                {"model": "bench", "key": f"c{c}", "trigger": "drift", "status": "kept",
                 "stage": "decided", "details": {"reason": "bench"},
                 "started_at": start + timedelta(days=c), "updated_at": start + timedelta(days=c)}
                for c in range(200)
            ],
        )  # fmt: skip
    if store.dialect == "postgresql":
        with store.engine.connect() as connection:
            connection.exec_driver_sql("COMMIT")
            connection.exec_driver_sql("ANALYZE")
    else:
        with store.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    store.close()


# ---- measuring forgeml -------------------------------------------------------------------


def measure_forgeml(url: str, root: Path, repeat: int, rss_loops: int) -> dict[str, Any]:
    import psutil

    from forgeml.project import Project
    from forgeml.ui.app import UIApp

    os.environ["FORGEML_DB_URL"] = url
    project = Project.init(root, name="bench")
    app = UIApp(project, admin_key="bench")
    loop = asyncio.new_event_loop()

    def call(path: str) -> tuple[float, int, bytes]:
        target, _, query = path.partition("?")
        scope = {"type": "http", "method": "GET", "path": target, "raw_path": target.encode(),
                 "query_string": query.encode(), "headers": [(b"host", b"127.0.0.1")]}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        started = time.perf_counter()
        loop.run_until_complete(app(scope, receive, send))
        elapsed = time.perf_counter() - started
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return elapsed, status, body

    _, status, first = call("/runs?limit=100")
    assert status == 200, first[:500]
    cursor = first.decode().split('id="more" href="/runs?after=')[1].split("&")[0]
    import re

    ids = re.findall(r'<a href="/runs/([0-9a-f]{32})">', first.decode())
    _, _, more = call(f"/runs?limit=100&after={cursor}")
    ids += re.findall(r'<a href="/runs/([0-9a-f]{32})">', more.decode())
    while len(ids) < 500:
        cursor = more.decode().split('id="more" href="/runs?after=')[1].split("&")[0]
        _, _, more = call(f"/runs?limit=100&after={cursor}")
        ids += re.findall(r'<a href="/runs/([0-9a-f]{32})">', more.decode())
    pages = {
        "home": "/",
        "runs": "/runs?limit=100",
        "runs-next": f"/runs?limit=100&after={cursor}",
        "runs-filter-sort": "/runs?limit=100&sort=metrics.roc_auc&filter="
        "metrics.roc_auc+%3E+0.8+and+params.candidate+%3D+%27lightgbm%27",
        "run": f"/runs/{ids[0]}",
        "compare-500": "/runs/compare?ids=" + ",".join(ids[:500]),
        "models": "/models",
        "model": "/models/bench",
        "model-older": "/models/bench?before=1000",
        "version": "/models/bench/versions/7",
        "monitoring": "/models/bench/monitoring",
    }
    results: dict[str, Any] = {}
    for name, path in pages.items():
        times, weight = [], 0
        for _ in range(repeat):
            elapsed, status, body = call(path)
            assert status == 200, (name, body[:300])
            times.append(elapsed * 1000)
            weight = len(body)
        results[name] = {"p50_ms": statistics.median(times), "p95_ms": _p95(times), "bytes": weight}
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(rss_loops):
        for path in pages.values():
            call(path)
    growth = (process.memory_info().rss - before) / 2**20
    results["rss_growth_mb"] = growth
    loop.close()
    project.close()
    return results


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ---- MLflow (in its own venv) ------------------------------------------------------------

MLFLOW_CHILD = r"""
import json, random, sqlite3, statistics, sys, time, uuid, os
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
db, runs, keys, versions, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
from mlflow.tracking import MlflowClient
uri = "sqlite:///" + db
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
fresh = client.get_experiment_by_name("bench") is None
if fresh:
    exp = client.create_experiment("bench")
    client.create_registered_model("bench")
    con = sqlite3.connect(db)
    rng = random.Random(0)
    half = keys // 2
    now = int(time.time() * 1000)
    for lo in range(0, runs, 2000):
        r, p, m, lm, t = [], [], [], [], []
        for i in range(lo, min(runs, lo + 2000)):
            rid = uuid.UUID(int=rng.getrandbits(128)).hex
            r.append((rid, f"run-{i}", "LOCAL", "", "", "bench", "FINISHED", now + i, now + i + 1, None, "", "active", "", exp))
            for k in range(half - 1):
                p.append((f"p{k:03d}", str(rng.random()), rid))
            p.append(("candidate", rng.choice(["lightgbm", "xgboost", "logistic"]), rid))
            for k in range(half):
                key = "roc_auc" if k == half - 1 else f"m{k:03d}"
                v = rng.random()
                m.append((key, v, now, rid, 0, 0))
                lm.append((key, v, now, 0, 0, rid))
            t.append(("owner", "bench", rid))
        con.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", r)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", p)
        con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)", m)
        con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?,?,?,?,?,?)", lm)
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", t)
        con.commit()
    cols = [c[1] for c in con.execute("PRAGMA table_info(model_versions)")]
    base = {"name": "bench", "creation_time": now, "last_updated_time": now, "description": "",
            "user_id": "bench", "current_stage": "None", "source": "runs:/x/model", "run_id": None,
            "status": "READY", "status_message": None, "run_link": None, "storage_location": None}
    use = [c for c in cols if c in base or c == "version"]
    rows = [tuple(v if c == "version" else base[c] for c in use) for v in range(1, versions + 1)]
    con.executemany(f"INSERT INTO model_versions ({', '.join(use)}) VALUES ({', '.join('?' * len(use))})", rows)
    con.commit(); con.execute("ANALYZE"); con.commit(); con.close()
exp_id = client.get_experiment_by_name("bench").experiment_id
def timed(fn):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(); out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return {"p50_ms": statistics.median(out), "p95_ms": out[min(len(out) - 1, round(0.95 * (len(out) - 1)))]}
first = client.search_runs([exp_id], max_results=100)
assert len(first) == 100
token = first.token
res = {
    "runs": timed(lambda: client.search_runs([exp_id], max_results=100)),
    "runs-next": timed(lambda: client.search_runs([exp_id], max_results=100, page_token=token)),
    "model": timed(lambda: (client.get_registered_model("bench"), client.search_model_versions("name='bench'", max_results=100))),
}
import mlflow
res["version"] = mlflow.__version__
print("RESULT " + json.dumps(res))
"""


def measure_mlflow(runs: int, keys: int, versions: int, repeat: int, fresh: bool) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from tracking_mlflow import mlflow_python

    python = mlflow_python()
    db = DATA / f"mlflow-{runs}-{keys}-{versions}.db"
    if fresh and db.exists():
        db.unlink()
    DATA.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), "-c", MLFLOW_CHILD, str(db), str(runs), str(keys), str(versions), str(repeat)],
        capture_output=True, text=True, check=False, cwd=DATA,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
    )  # fmt: skip
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"the MLflow job failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(line[len("RESULT ") :]))


# ---- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=200, help="params + metrics per run")
    parser.add_argument("--versions", type=int, default=200_000)
    parser.add_argument("--windows", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rss-loops", type=int, default=100)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.versions, args.windows = 2_000, 20_000, 500
        args.repeat, args.rss_loops = 10, 20
    shape = f"{args.runs:,} runs x {args.keys} params/metrics, {args.versions:,} versions, {args.windows:,} windows"
    print(f"store: {shape}")
    DATA.mkdir(parents=True, exist_ok=True)
    ours: dict[str, dict[str, Any]] = {}
    for backend in args.backends:
        tag = f"{args.runs}-{args.keys}-{args.versions}-{args.windows}"
        root = DATA / f"project-{backend}-{tag}"
        if backend == "sqlite":
            url = f"sqlite:///{DATA / f'forgeml-{tag}.db'}"
            exists = (DATA / f"forgeml-{tag}.db").exists()
            if args.fresh and exists:
                (DATA / f"forgeml-{tag}.db").unlink()
                exists = False
        else:
            url, exists = _pg_schema(f"bench_ui_{tag.replace('-', '_')}", args.fresh)
        if not exists:
            started = time.perf_counter()
            populate(url, args.runs, args.keys, args.versions, args.windows)
            print(f"{backend}: store generated in {time.perf_counter() - started:.0f} s")
        ours[backend] = measure_forgeml(url, root, args.repeat, args.rss_loops)
    theirs = None
    if not args.skip_mlflow:
        theirs = measure_mlflow(args.runs, args.keys, args.versions, args.repeat, args.fresh)
    return report(ours, theirs)


def _pg_schema(schema: str, fresh: bool) -> tuple[str, bool]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        present = (
            connection.execute(
                text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": schema},
            ).first()
            is not None
        )
        if present and fresh:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            present = False
        if not present:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), present


def report(ours: dict[str, dict[str, Any]], theirs: dict[str, Any] | None) -> int:
    missed = 0
    for backend, results in ours.items():
        print(f"\nforgeml UI on {backend}: server time per page (ms) and page weight")
        print(f"{'page':<18}{'p50':>9}{'p95':>9}{'KiB':>8}{'target':>9}  verdict")
        for name, row in results.items():
            if name == "rss_growth_mb":
                continue
            target = TARGETS_MS.get(name)
            verdict = "" if target is None else ("PASS" if row["p95_ms"] <= target else "MISS")
            missed += verdict == "MISS"
            print(f"{name:<18}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['bytes'] / 1024:>8.1f}"
                  f"{target or '':>9}  {verdict}")  # fmt: skip
        growth = results["rss_growth_mb"]
        ok = growth <= RSS_TARGET_MB
        missed += not ok
        print(f"RSS growth after every page x loops: {growth:.1f} MB (target <= {RSS_TARGET_MB}) "
              f"{'PASS' if ok else 'MISS'}")  # fmt: skip
    if theirs is not None:
        print(
            f"\nMLflow {theirs['version']} store calls behind its UI (SQLite), p95 ms, vs forgeml on SQLite"
        )
        for name in ("runs", "runs-next", "model"):
            mine = ours.get("sqlite", next(iter(ours.values())))[name]["p95_ms"]
            other = theirs[name]["p95_ms"]
            ratio = other / mine if mine else float("inf")
            ok = ratio >= RATIO_TARGET
            missed += not ok
            print(f"{name:<12} mlflow {other:>9.1f}  forgeml {mine:>7.1f}  ratio {ratio:>7.1f}x  "
                  f"(target >= {RATIO_TARGET:.0f}x) {'PASS' if ok else 'MISS'}")  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
