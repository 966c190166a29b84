"""Benchmark: the same model and row through forgeml's protocol routes and their anchors.

Claim: the LightGBM binary classifier of ``run.py`` (100 trees, 30 numeric features) and one
row, load generated over loopback at concurrency 1 and 16, served by

  (a) ``forgeml serve`` at ``POST /predict`` (its own route: the reference);
  (b) the same server at ``POST /v2/models/bench/infer`` (Open Inference Protocol, one
      ``[1, 30]`` FP64 tensor) and at ``POST /invocations`` (MLflow's protocol,
      ``{"dataframe_records": [row]}``), validation, metrics and prediction log on;
  (c) Seldon MLServer 1.7 with its LightGBM runtime (own environment), the same OIP request;
  (d) ``mlflow models serve`` (own environment), the same ``/invocations`` request;

gives (b) at least 0.8x (a)'s throughput on each route, and forgeml's OIP route at least
20x MLServer's throughput. Every server is one process with its defaults, pinned to one CPU;
the load generator is pinned to the other.

    .venv/bin/python benchmarks/serving/protocols.py                  # 10 s runs
    .venv/bin/python benchmarks/serving/protocols.py --seconds 3 --rows 5000
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import mlserver_side  # noqa: E402
import model  # noqa: E402
from loadgen import LoadResult, build_request, run_load  # noqa: E402
from mlflow_side import mlflow_python, save  # noqa: E402
from mlflow_side import server_command as mlflow_command  # noqa: E402
from servers import Server, free_port, pinning, post_json  # noqa: E402

from _measure import installed_versions, load_average, machine_facts  # noqa: E402
from report import verdict  # noqa: E402
from tracking_mlflow import ISOLATING_ENV, MLFLOW_VENV, MLFLOW_VERSION  # noqa: E402

CONCURRENCY = (1, 16)
TARGET_VS_PREDICT = 0.8
TARGET_VS_MLSERVER = 20.0
INFER = f"/v2/models/{model.MODEL_NAME}/infer"
LABELS = {
    "predict": "(a) forgeml /predict",
    "oip": "(b) forgeml OIP",
    "invocations": "(b) forgeml /invocations",
    "mlserver": "(c) MLServer OIP",
    "mlflow": "(d) mlflow /invocations",
}


def requests_of(record: dict[str, float]) -> dict[str, tuple[str, bytes]]:
    row = [record[name] for name in model.FEATURES]
    oip = orjson.dumps(mlserver_side.infer_body(row))
    records = orjson.dumps({"dataframe_records": [record]})
    return {
        "predict": ("/predict", orjson.dumps(record)),
        "oip": (INFER, oip),
        "invocations": ("/invocations", records),
        "mlserver": (INFER, oip),
        "mlflow": ("/invocations", records),
    }


def probability(name: str, answer: Any) -> Any:
    if name == "predict":
        return float(answer["scores"][0])
    if name in ("oip", "mlserver"):
        outputs = answer["outputs"]
        if name == "oip":
            proba = next(o for o in outputs if o["name"] == "predict_proba")
            return float(proba["data"][1])
        return float(outputs[0]["data"][0])
    return answer["predictions"][0]


def answers_right(name: str, answer: Any, expected: float) -> bool:
    """The probability of the booster within 1e-6; for forgeml's /invocations, which answers
    with the label as MLflow's classifiers do, the label the 0.5 threshold gives."""
    got = probability(name, answer)
    if name == "invocations":
        return got is (expected >= 0.5)
    return abs(float(got) - expected) <= 1e-6


def forgeml_server(work: Path, name: str, cpu: int | None) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATING_ENV}
    env["FORGEML_PROJECT"] = str(work / "project")
    port = free_port()
    argv = [sys.executable, "-m", "forgeml.cli", "serve", model.MODEL_NAME, "--port", str(port)]
    return Server(name, argv, env, port, "/ready", work / f"{name}.log", cpu)


def check(server: Server, body: tuple[str, bytes], expected: float) -> None:
    status, answer = post_json(server.port, *body)
    if status != 200 or not answers_right(server.name, answer, expected):
        raise RuntimeError(f"{server.name} answered {status} {answer!r}, not {expected}")


def measure(
    servers: dict[str, Server],
    bodies: dict[str, tuple[str, bytes]],
    args: Any,
    cpu: int | None,
    cpu_us: dict[int, dict[str, list[float]]],
) -> dict[int, dict[str, list[LoadResult]]]:
    """Each server in turn, ``--rounds`` times per concurrency: a change in the machine's
    load then touches every server alike, and ratios are taken round by round. ``cpu_us``
    gets each run's server CPU time per answered request (all of the server's processes,
    warm-up included): unlike throughput, it barely moves when other work shares the CPU."""
    results: dict[int, dict[str, list[LoadResult]]] = {}
    for clients in CONCURRENCY:
        runs: dict[str, list[LoadResult]] = {name: [] for name in servers}
        for round_ in range(args.rounds):
            for name, server in servers.items():
                path, body = bodies[name]
                before = server.cpu_seconds()
                r = run_load(
                    server.port,
                    build_request(path, body, server.port),
                    concurrency=clients,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    cpu=cpu,
                    work=args.work,
                )
                after = server.cpu_seconds()
                if before is not None and after is not None and r.ok_total:
                    cpu_us.setdefault(clients, {}).setdefault(name, []).append(
                        (after - before) / r.ok_total * 1e6
                    )
                runs[name].append(r)
                progress(f"round {round_ + 1}, {name}, {clients} clients: {r.rps:,.0f} req/s")
        results[clients] = runs
    return results


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(runs: dict[str, list[LoadResult]], ours: str, theirs: str) -> tuple[float, float, float]:
    """Median throughputs of two servers and the median of their round-by-round ratios."""
    paired = [a.rps / b.rps for a, b in zip(runs[ours], runs[theirs], strict=True)]
    return (
        median([r.rps for r in runs[ours]]),
        median([r.rps for r in runs[theirs]]),
        median(paired),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--rows", type=int, default=50_000, help="training rows")
    parser.add_argument("--rounds", type=int, default=3, help="runs per server, interleaved")
    parser.add_argument("--skip-mlflow", action="store_true", help="leave out (d)")
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    lightgbm_version = installed_versions("lightgbm").split()[1]
    mlserver = mlserver_side.mlserver_python(lightgbm_version)
    mlflow = (
        None if args.skip_mlflow else mlflow_python(MLFLOW_VENV, MLFLOW_VERSION, lightgbm_version)
    )
    cpus = pinning()
    print(
        "\n".join(
            machine_facts(
                installed_versions("forgeml", "uvicorn", "lightgbm", "orjson")
                + f"; MLServer {mlserver_side.MLSERVER_VERSION}"
                + ("" if mlflow is None else f"; mlflow {MLFLOW_VERSION}")
            )
        )
    )
    print(f"model    : LightGBM binary, {model.TREES} trees, {len(model.FEATURES)} float features")
    print(
        f"load     : {args.warmup:g} s warm-up + {args.seconds:g} s per run, closed loop, "
        f"keep-alive; load average {load_average()} before"
    )
    with tempfile.TemporaryDirectory(prefix="bench-protocols-") as folder:
        work = Path(folder)
        args.work = work
        data = model.table(args.rows)
        fitted = model.train(data)
        booster = fitted[0]
        model_file = work / "model.txt"
        booster.save_model(str(model_file))
        model.register(work / "project", *fitted)
        record = model.payload_record(data)
        expected = float(booster.predict([[record[n] for n in model.FEATURES]], num_threads=1)[0])
        bodies = requests_of(record)
        server_cpu = cpus[0] if cpus else None
        servers = {
            name: forgeml_server(work, name, server_cpu)
            for name in ("predict", "oip", "invocations")
        }
        ports = (free_port(), free_port(), free_port())
        mlserver_side.model_folder(work / "mlserver", model_file, model.MODEL_NAME, ports)
        argv_ms, env_ms = mlserver_side.server_command(mlserver, work / "mlserver")
        servers["mlserver"] = Server(
            "mlserver",
            argv_ms,
            env_ms,
            ports[0],
            "/v2/health/ready",
            work / "mlserver.log",
            server_cpu,
        )
        if mlflow is not None:
            save(mlflow, model_file, record, signed=work / "mlflow", unsigned=work / "mlflow-nosig")
            port = free_port()
            argv_mf, env_mf = mlflow_command(mlflow, work / "mlflow", port)
            servers["mlflow"] = Server(
                "mlflow", argv_mf, env_mf, port, "/ping", work / "mlflow.log", server_cpu
            )
        started: list[Server] = []
        cpu_us: dict[int, dict[str, list[float]]] = {}
        try:
            for name, server in servers.items():
                progress(f"starting {name} ...")
                server.start(timeout_s=300)
                started.append(server)
                check(server, bodies[name], expected)
            results = measure(servers, bodies, args, cpus[1] if cpus else None, cpu_us)
        finally:
            for server in started:
                server.stop()
    print()
    header = (
        f"{'server':<26} {'clients':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'server CPU us/req':>17}"
    )
    print(f"each figure: the median of {args.rounds} interleaved runs")
    print(header)
    print("-" * len(header))
    for clients, runs in results.items():
        for name, rs in runs.items():
            print(
                f"{LABELS[name]:<26} {clients:>7} {median([r.rps for r in rs]):>9,.0f} "
                f"{median([r.p50_us for r in rs]) / 1000:>8.3f} "
                f"{median([r.p99_us for r in rs]) / 1000:>8.3f} {sum(r.errors for r in rs):>6} "
                f"{median(cpu_us.get(clients, {}).get(name) or [math.nan]):>17,.0f}"
            )
    ok = True
    for clients, runs in results.items():
        for name in ("oip", "invocations"):
            a, b, x = ratio(runs, name, "predict")
            ok &= x >= TARGET_VS_PREDICT
            print(
                f"target   : {LABELS[name]} >= {TARGET_VS_PREDICT:g}x (a), {clients:>2} clients: "
                f"{a:,.0f} vs {b:,.0f} req/s, ratio {x:.2f}x  {verdict(x >= TARGET_VS_PREDICT)}"
            )
        a, b, x = ratio(runs, "oip", "mlserver")
        ok &= x >= TARGET_VS_MLSERVER
        print(
            f"target   : (b) forgeml OIP >= {TARGET_VS_MLSERVER:g}x (c) MLServer OIP, "
            f"{clients:>2} clients: {a:,.0f} vs {b:,.0f} req/s, ratio {x:,.1f}x  "
            f"{verdict(x >= TARGET_VS_MLSERVER)}"
        )
        cpu = {n: median(v) for n, v in cpu_us.get(clients, {}).items()}
        if "oip" in cpu and "mlserver" in cpu and "predict" in cpu:
            print(
                f"cpu      : server CPU per request, {clients:>2} clients: (c) MLServer OIP "
                f"{cpu['mlserver'] / cpu['oip']:,.1f}x (b) forgeml OIP's; (b) forgeml OIP "
                f"{cpu['oip'] / cpu['predict']:.2f}x and /invocations "
                f"{cpu.get('invocations', math.nan) / cpu['predict']:.2f}x (a) /predict's"
            )
        if "mlflow" in runs:
            a, b, x = ratio(runs, "invocations", "mlflow")
            print(
                f"compare  : (b) forgeml /invocations vs (d) mlflow /invocations, {clients:>2} "
                f"clients: {a:,.0f} vs {b:,.0f} req/s, ratio {x:,.1f}x"
            )
    errors = sum(r.errors_total for runs in results.values() for rs in runs.values() for r in rs)
    print(f"errors   : {errors} over all runs (warm-ups included)")
    print(f"load     : load average {load_average()} after the last run")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
