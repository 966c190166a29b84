"""Benchmark: log 10,000 metric points and 100 params in one run, forgeml vs. MLflow.

Claim: a forgeml run (embedded SQLite store) takes 10,000 ``log_metric`` calls and 100
``log_param`` calls at 100x or more the rate of MLflow with its SQLite backend, on the same
machine in the same invocation, and both end up storing every point.

Each side runs in its own fresh child process (see ``_measure.py``) and in a fresh store.
The clock starts just before the first log call and stops once the run is ended (forgeml:
``Run.finish()``, which writes the last batch; MLflow: ``mlflow.end_run()``); imports,
store creation and starting the run are not timed. Every call is made one at a time, each
point with its own step. Afterwards the parent counts the stored rows in both databases.

MLflow runs in its own virtual environment, created on first use at
``benchmarks/.venvs/mlflow`` (``python -m venv`` + ``pip install mlflow==VERSION``).

    .venv/bin/python benchmarks/tracking_mlflow.py                  # 10,000 points
    .venv/bin/python benchmarks/tracking_mlflow.py --points 1000    # quick check

MLflow needs minutes for 10,000 calls, so by default its job runs once and forgeml's five
times (``--mlflow-repeat``, ``--repeat``); the order of the two jobs alternates.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import ISOLATING_ENV as FORGEML_ENV
from _measure import (
    PYCACHE_DIR,
    Measurement,
    Summary,
    installed_versions,
    load_average,
    machine_facts,
    ready,
    report,
    run_child,
    summarize,
)

HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venvs" / "mlflow"
MLFLOW_VERSION = "3.17.2"
TARGET_RATIO = 100.0
WARMUP_POINTS = 200
JOBS = ("mlflow", "forgeml")
ISOLATING_ENV = (
    *FORGEML_ENV,
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
)
# no telemetry or other network traffic from the MLflow child
QUIET_MLFLOW = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def values(points: int) -> list[float]:
    """The metric values both sides log: a decaying loss curve."""
    return [1.0 / (1.0 + 0.01 * i) for i in range(points)]


# -- child jobs ------------------------------------------------------------------------------


def child_forgeml(folder: Path, points: int, params: int) -> None:
    from forgeml.project import Project
    from forgeml.training.tracking import start_run

    series = values(points)
    with Project.init(folder / "project", name="bench") as project:
        run = start_run(experiment="bench", project=project)
        start = ready()
        for step, value in enumerate(series):
            run.log_metric("loss", value, step=step)
        for i in range(params):
            run.log_param(f"param_{i:03d}", i)
        run.finish()
        wall = time.perf_counter() - start
        db = project.store.engine.url.database
    report(wall, run_id=run.id, db=db)


def child_mlflow(folder: Path, points: int, params: int) -> None:
    import mlflow

    series = values(points)
    db = folder / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    mlflow.set_experiment("bench")
    run = mlflow.start_run()
    start = ready()
    for step, value in enumerate(series):
        mlflow.log_metric("loss", value, step=step)
    for i in range(params):
        mlflow.log_param(f"param_{i:03d}", i)
    mlflow.end_run()
    wall = time.perf_counter() - start
    report(wall, run_id=run.info.run_id, db=str(db))


# -- stored rows, counted by the parent ------------------------------------------------------


def stored(job: str, db: str, run_id: str) -> tuple[int, int, str]:
    """(metric points, params, status) of the run, read straight from its SQLite file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        if job == "forgeml":
            (points,) = connection.execute(
                "SELECT count(*) FROM run_metrics WHERE run_id = ?", (run_id,)
            ).fetchone()
            params_json, status = connection.execute(
                "SELECT params, status FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            return points, len(json.loads(params_json)), status
        (points,) = connection.execute(
            "SELECT count(*) FROM metrics WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        (params,) = connection.execute(
            "SELECT count(*) FROM params WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        (status,) = connection.execute(
            "SELECT status FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        return points, params, status.lower()


# -- parent ----------------------------------------------------------------------------------


def mlflow_python() -> Path:
    """The MLflow environment's interpreter, creating the environment if needed."""
    python = MLFLOW_VENV / "bin" / "python"
    if installed_mlflow(python) == MLFLOW_VERSION:
        return python
    print(f"installing mlflow=={MLFLOW_VERSION} into {MLFLOW_VENV} ...", file=sys.stderr)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"mlflow=={MLFLOW_VERSION}"], check=True)
    return python


def installed_mlflow(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('mlflow'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def run_job(
    job: str, python: Path, points: int, params: int
) -> tuple[Measurement, tuple[int, int, str]]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{job}-") as folder:
        argv = [str(python), str(Path(__file__).resolve()), "--child", job, "--dir", folder]
        argv += ["--points", str(points), "--params", str(params)]
        m = run_child(
            argv,
            unset_env=ISOLATING_ENV,
            set_env=QUIET_MLFLOW if job == "mlflow" else None,
            cwd=folder,  # MLflow puts its default artifact folder (mlruns/) here
            pycache_dir=PYCACHE_DIR,
        )
        return m, stored(job, m.extra["db"], m.extra["run_id"])


def print_table(results: dict[str, Summary], calls: int) -> float:
    header = (
        f"{'job':<8} {'wall s (median)':>16} {'min-max s':>15} {'cpu s':>7} "
        f"{'calls/s':>10} {'us/call':>8} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    rates = {}
    for job in JOBS:
        s = results[job]
        rates[job] = calls / s.wall_s_median
        spread = f"{s.wall_s_min:.3f}-{s.wall_s_max:.3f}"
        print(
            f"{job:<8} {s.wall_s_median:>16.3f} {spread:>15} {s.cpu_s_median:>7.2f} "
            f"{rates[job]:>10,.0f} {1e6 / rates[job]:>8.1f} {s.peak_rss_mib_max:>9.0f}"
        )
    return rates["forgeml"] / rates["mlflow"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000, help="log_metric calls")
    parser.add_argument("--params", type=int, default=100, help="log_param calls")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the forgeml job")
    parser.add_argument(
        "--mlflow-repeat", type=int, default=1, help="runs of the MLflow job (minutes each)"
    )
    parser.add_argument("--child", choices=JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child = child_forgeml if args.child == "forgeml" else child_mlflow
        child(args.dir, args.points, args.params)
        return 0
    if args.points < 1 or args.params < 0 or min(args.repeat, args.mlflow_repeat) < 1:
        parser.error("--points and the repeats must be at least 1, --params at least 0")

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    pythons = {"mlflow": mlflow_python(), "forgeml": Path(sys.executable)}
    calls = args.points + args.params
    packages = (
        f"{installed_versions('forgeml', 'sqlalchemy')}, "
        f"mlflow {installed_mlflow(pythons['mlflow'])} "
        f"(in {MLFLOW_VENV.relative_to(HERE.parent)}), sqlite {sqlite3.sqlite_version}"
    )
    print("\n".join(machine_facts(packages)))
    print(
        f"workload : one run, {args.points:,} log_metric calls (one key, step = 0, 1, ...) "
        f"then {args.params} log_param calls, one call at a time"
    )
    print(
        "stores   : forgeml: fresh project, embedded SQLite; "
        "MLflow: set_tracking_uri('sqlite:///<fresh dir>/mlflow.db')"
    )
    print(
        f"repeats  : forgeml {args.repeat}, MLflow {args.mlflow_repeat}, interleaved; fresh "
        f"child process per job (bytecode warmed by an unmeasured {WARMUP_POINTS}-point run "
        "of each); wall = median"
    )
    print(f"load     : 1-minute load average {load_average()} before the first job")
    print()

    for job in JOBS:  # fills the bytecode cache; not measured
        run_job(job, pythons[job], WARMUP_POINTS, 10)

    runs: dict[str, list[Measurement]] = {job: [] for job in JOBS}
    counts: dict[str, list[tuple[int, int, str]]] = {job: [] for job in JOBS}
    wanted = {"forgeml": args.repeat, "mlflow": args.mlflow_repeat}
    for i in range(max(wanted.values())):
        for job in JOBS if i % 2 == 0 else JOBS[::-1]:
            if len(runs[job]) == wanted[job]:
                continue
            m, found = run_job(job, pythons[job], args.points, args.params)
            runs[job].append(m)
            counts[job].append(found)
            print(
                f"  run {i + 1} {job:<8} {m.wall_s:9.3f}s  cpu {m.cpu_s:7.2f}s  "
                f"{calls / m.wall_s:>10,.0f} calls/s",
                file=sys.stderr,
                flush=True,
            )

    ratio = print_table({job: summarize(ms) for job, ms in runs.items()}, calls)
    complete = True
    for job in JOBS:
        for points, params, status in counts[job]:
            ok = (points, params, status) == (args.points, args.params, "finished")
            complete &= ok
            print(
                f"stored   : {job:<8} {points:,} metric points, {params} params, run {status}"
                f"  {'complete' if ok else 'INCOMPLETE'}"
            )
    verdict = "PASS" if ratio >= TARGET_RATIO and complete else "MISS"
    print(f"target   : forgeml calls/s >= {TARGET_RATIO:g}x MLflow's: {ratio:,.0f}x  {verdict}")
    print(f"load     : 1-minute load average {load_average()} after the last job")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
