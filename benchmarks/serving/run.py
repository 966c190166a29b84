"""Benchmark: one LightGBM model behind forgeml serve, MLflow's model server and a bare ASGI app.

Claim: the same LightGBM binary classifier (100 trees, 30 numeric features) and the same
single-row JSON payload, load generated over loopback at concurrency 1 and 16, served by

  (a) ``forgeml serve`` with input validation, metrics and prediction logging on;
  (b) ``mlflow models serve --env-manager local`` (MLflow in its own environment), the
      model saved with a signature (MLflow then checks every request, as forgeml does)
      and, as a second row, without one;
  (c) a bare ASGI app that decodes the JSON and calls the booster (the floor for Python);

gives (a) at least 40x (b)'s throughput, a p50 latency of at most 1 ms for (a) at
concurrency 1, and at least 0.7x (c)'s throughput. A further soak of (a) with 16 clients
ends with zero errors and exactly as many logged predictions as 200 responses.

The model is trained here on seeded data (``--rows`` x 30 floats), registered in a fresh
forgeml project and promoted to ``champion``; the bare app and MLflow load the same trees
from LightGBM's text format. Every server runs as its own process with its defaults (one
worker each), pinned to one CPU; the load generator (``loadgen.py``) runs in another
process pinned to the other CPU, keeping one keep-alive connection per client. Each server
gets ``--warmup`` seconds of load, then ``--seconds`` measured, per concurrency.

    .venv/bin/python benchmarks/serving/run.py                         # 10 s runs, 60 s soak
    .venv/bin/python benchmarks/serving/run.py --seconds 3 --soak-seconds 5 --rows 5000
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the shared benchmark helpers

import model  # noqa: E402
from loadgen import LoadResult, build_request, run_load  # noqa: E402
from mlflow_side import installed, mlflow_python, save, server_command  # noqa: E402
from servers import Server, free_port, pinning, post_json  # noqa: E402

from _measure import installed_versions, load_average, machine_facts  # noqa: E402
from report import Measured, print_table, print_targets, verdict  # noqa: E402
from tracking_mlflow import ISOLATING_ENV, MLFLOW_VENV, MLFLOW_VERSION  # noqa: E402

SERVERS = ("forgeml", "mlflow", "mlflow-nosig", "bare")
CONCURRENCY = (1, 16)
SOAK_CLIENTS = 16
MODEL_FILE = "model.txt"


@dataclass(frozen=True)
class Setup:
    """What every run shares: options, scratch folder, CPUs, the payload and its answer."""

    args: argparse.Namespace
    work: Path
    server_cpu: int | None
    load_cpu: int | None
    record: dict[str, float]
    expected: float

    def load(self, server: Server, clients: int, seconds: float, warmup: float) -> LoadResult:
        path, body = request_of(server.name, self.record)
        return run_load(
            server.port,
            build_request(path, body, server.port),
            concurrency=clients,
            seconds=seconds,
            warmup=warmup,
            cpu=self.load_cpu,
            work=self.work,
        )


def forgeml_server(setup: Setup, project: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATING_ENV}
    env["FORGEML_PROJECT"] = str(project)
    port = free_port()
    argv = [sys.executable, "-m", "forgeml.cli", "serve", model.MODEL_NAME, "--port", str(port)]
    log = setup.work / f"forgeml-{port}.log"
    return Server("forgeml", argv, env, port, "/ready", log, setup.server_cpu)


def mlflow_server(setup: Setup, python: Path, name: str) -> Server:
    port = free_port()
    argv, env = server_command(python, setup.work / name, port)
    return Server(name, argv, env, port, "/ping", setup.work / f"{name}.log", setup.server_cpu)


def bare_server(setup: Setup) -> Server:
    port = free_port()
    argv = [sys.executable, str(HERE / "bare_app.py"), "--model", str(setup.work / MODEL_FILE)]
    argv += ["--port", str(port)]
    log = setup.work / "bare.log"
    return Server("bare", argv, dict(os.environ), port, "/health", log, setup.server_cpu)


def request_of(name: str, record: dict[str, float]) -> tuple[str, bytes]:
    """(path, body) of one prediction request in the server's own format."""
    if name.startswith("mlflow"):
        return "/invocations", orjson.dumps({"dataframe_records": [record]})
    return "/predict", orjson.dumps(record)


def probability(name: str, answer: Any) -> float:
    if name == "forgeml":
        return float(answer["scores"][0])
    if name.startswith("mlflow"):
        return float(answer["predictions"][0])
    return float(answer["prediction"])


def measure(setup: Setup, server: Server) -> dict[int, Measured]:
    """Start ``server``, check its answer, load it at each concurrency, stop it."""
    progress(f"starting {server.name} ...")
    server.start()
    try:
        status, answer = post_json(server.port, *request_of(server.name, setup.record))
        got = probability(server.name, answer) if status == 200 else None
        if got is None or abs(got - setup.expected) > 1e-6:
            raise RuntimeError(f"{server.name} answered {status} {answer!r}, not {setup.expected}")
        progress(f"{server.name} answers p={got:.6f} (the booster: {setup.expected:.6f})")
        runs = {}
        for clients in CONCURRENCY:
            before = server.cpu_seconds()
            r = setup.load(server, clients, setup.args.seconds, setup.args.warmup)
            after = server.cpu_seconds()
            cpu = None
            if before is not None and after is not None and r.ok_total:
                cpu = (after - before) / r.ok_total * 1e6
            runs[clients] = Measured(r, cpu)
            progress(f"{server.name}, {clients} clients: {r.rps:,.0f} req/s")
    finally:
        server.stop()
    return runs


def soak(setup: Setup, fitted: tuple[Any, Any, Any]) -> bool:
    """forgeml alone under load for ``--soak-seconds``; then every 200 must be logged."""
    from forgeml import Project
    from forgeml.serve.predlog import read_predictions

    seconds = setup.args.soak_seconds
    project_dir = setup.work / "soak-project"
    model.register(project_dir, *fitted)
    server = forgeml_server(setup, project_dir)
    progress(f"soak: forgeml, {SOAK_CLIENTS} clients, {seconds:g} s ...")
    server.start()
    try:
        r = setup.load(server, SOAK_CLIENTS, seconds, 0.0)
    finally:
        status = server.stop()  # SIGTERM: the server writes what its log still buffers
    with Project.load(project_dir) as project:
        logged = read_predictions(project, model.MODEL_NAME, columns=["request_id"]).num_rows
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly
    clean = status in (0, -signal.SIGTERM)
    log_errors = [line for line in server.log_tail(100_000).splitlines() if "ERROR" in line]
    ok = r.errors_total == 0 and logged == r.ok_total and clean and not log_errors
    print(
        f"soak     : {r.rps:,.0f} req/s, p50 {r.p50_us / 1000:.3f} ms, p99 "
        f"{r.p99_us / 1000:.3f} ms, max {r.max_us / 1000:.1f} ms"
    )
    print(
        f"soak     : {seconds:g} s, {SOAK_CLIENTS} clients, fresh project: {r.ok_total:,} "
        f"answered 200, {r.errors_total} errors; {logged:,} predictions logged; "
        f"after SIGTERM the server exited {'cleanly' if clean else f'with status {status}'}, "
        f"{len(log_errors)} ERROR lines in its log  {verdict(ok)}"
    )
    for line in log_errors[:5]:
        print(f"soak     : server log: {line}")
    if r.first_error:
        print(f"soak     : first error: {r.first_error}")
    return ok


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def print_header(args: argparse.Namespace, python: Path, cpus: tuple[int, int] | None) -> None:
    theirs = {p: installed(python, p) for p in ("mlflow", "uvicorn", "uvloop", "httptools")}
    ours = installed_versions("forgeml", "uvicorn", "uvloop", "httptools", "lightgbm", "orjson")
    where = MLFLOW_VENV.relative_to(HERE.parents[1])
    packages = f"{ours}; in {where}: mlflow {theirs['mlflow']}, uvicorn {theirs['uvicorn']}, "
    packages += "the same lightgbm"
    print("\n".join(machine_facts(packages)))
    print(
        f"pinning  : every server on CPU {cpus[0]}, the load generator on CPU {cpus[1]}"
        if cpus
        else "pinning  : none (fewer than 2 usable CPUs, or no sched_setaffinity)"
    )
    fast = theirs["uvloop"] and theirs["httptools"]
    their_loop = "uvloop + httptools" if fast else "asyncio + h11 (no uvloop, no httptools)"
    print(
        "servers  : (a) forgeml serve: 1 worker (default), uvicorn with uvloop + httptools, "
        "input validation, metrics and prediction log (1 s flush) on"
    )
    print(
        "           (b) mlflow models serve --env-manager local: 1 uvicorn worker (its default), "
        f"{their_loop} (as installed); the model saved with a signature (checked on every "
        "request, like forgeml's validation) and, as 'nosig', without one"
    )
    print(
        "           (c) bare raw ASGI app, uvicorn with forgeml's options, "
        "Booster.predict(row, num_threads=1)"
    )
    print(
        f"model    : LightGBM binary, {model.TREES} trees, {len(model.FEATURES)} float features, "
        f"trained on {args.rows:,} seeded rows"
    )
    print(
        "payload  : one record of 30 floats; (a) and (c) get it as is at /predict, (b) as "
        '{"dataframe_records": [record]} at /invocations'
    )
    print(
        "load     : closed loop over loopback, 1 and 16 keep-alive HTTP/1.1 connections, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per run; 1-minute load "
        f"average {load_average()} before"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="0 skips the soak")
    parser.add_argument("--rows", type=int, default=50_000, help="training rows")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.soak_seconds < 0 or args.rows < 1000:
        parser.error("--seconds must be > 0, --warmup and --soak-seconds >= 0, --rows >= 1000")
    if isinstance(sys.stdout, io.TextIOWrapper):  # each line as soon as it is printed
        sys.stdout.reconfigure(line_buffering=True)

    python = mlflow_python(MLFLOW_VENV, MLFLOW_VERSION, installed_versions("lightgbm").split()[1])
    cpus = pinning()
    print_header(args, python, cpus)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        work = Path(folder)
        progress(f"training {model.TREES} trees on {args.rows:,} rows ...")
        data = model.table(args.rows)
        fitted = model.train(data)
        booster = fitted[0]
        model_file = work / MODEL_FILE  # the trees, for the bare app and MLflow
        booster.save_model(str(model_file))
        model.register(work / "project", *fitted)
        record = model.payload_record(data)
        progress("saving the MLflow models ...")
        save(python, model_file, record, signed=work / "mlflow", unsigned=work / "mlflow-nosig")
        row = [[record[name] for name in model.FEATURES]]
        expected = float(booster.predict(row, num_threads=1)[0])
        server_cpu, load_cpu = cpus if cpus else (None, None)
        setup = Setup(args, work, server_cpu, load_cpu, record, expected)
        servers = {
            "forgeml": forgeml_server(setup, work / "project"),
            "mlflow": mlflow_server(setup, python, "mlflow"),
            "mlflow-nosig": mlflow_server(setup, python, "mlflow-nosig"),
            "bare": bare_server(setup),
        }
        results = {name: measure(setup, servers[name]) for name in SERVERS}
        print()
        print_table(results)
        print_targets(results)
        soaked = soak(setup, fitted) if args.soak_seconds > 0 else True
    print(f"load     : 1-minute load average {load_average()} after the last run")
    return 0 if soaked else 1


if __name__ == "__main__":
    sys.exit(main())
