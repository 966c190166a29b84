"""Start-up: how long a user waits before forgeml does anything.

Claim: with the machine's own ``python -c pass`` as the floor (median of the same number of
runs), ``forgeml --help`` and ``forgeml --version`` take ≤ floor + 0.25 s, ``forgeml models``
(a project with one registered model) ≤ floor + 1 s, ``import forgeml`` itself ≤ 0.3 s, and
``forgeml serve`` of a LightGBM model (100 trees, 30 features) answers ``GET /ready`` with
200 ≤ 3 s after the process starts. Each figure is the median of ``--repeat`` runs (default 10)
in fresh processes, after one unmeasured run that fills the bytecode cache
(``benchmarks/.data/pycache``, even where ``PYTHONDONTWRITEBYTECODE`` is set: an installed
environment has its bytecode compiled).

    .venv/bin/python benchmarks/startup.py            # --repeat 3 for a quick check
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from serving import model
from serving.servers import free_port

HERE = Path(__file__).resolve().parent
PYCACHE_DIR = HERE / ".data" / "pycache"  # compiled bytecode, as an installed environment has
CLI = [sys.executable, "-m", "forgeml.cli"]
IMPORT_TIMER = (
    "import time; started = time.perf_counter(); import forgeml; "
    "print(time.perf_counter() - started)"
)


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(argv: Sequence[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``argv`` to its exit (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_once(env: dict[str, str]) -> float:
    """Seconds ``import forgeml`` takes inside a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_TIMER], env=env, check=True, capture_output=True, text=True
    )
    return float(done.stdout.strip())


def serve_once(env: dict[str, str], timeout_s: float = 120.0) -> float:
    """Seconds from starting ``forgeml serve`` to its first 200 on GET /ready."""
    port = free_port()
    argv = [*CLI, "serve", model.MODEL_NAME, "--port", str(port), "--no-log"]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        while time.perf_counter() - started < timeout_s:
            if process.poll() is not None:
                raise RuntimeError(f"forgeml serve exited: {process.stderr.read().decode()}")
            if _ready(port):
                return time.perf_counter() - started
            time.sleep(0.01)
        raise RuntimeError(f"forgeml serve was not ready after {timeout_s:.0f}s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def median_of(job: Callable[[], float], repeat: int) -> tuple[float, float]:
    """Median seconds of ``repeat`` runs of ``job``, and the median CPU seconds of its process."""
    job()  # fills the bytecode cache; not measured
    seconds, cpu = [], []
    for _ in range(repeat):
        before = children_cpu()
        seconds.append(job())
        cpu.append(children_cpu() - before)
    return statistics.median(seconds), statistics.median(cpu)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per figure (median)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="forgeml-startup-") as work:
        project = Path(work) / "project"
        booster, pipeline, signature = model.train(model.table(5_000))
        model.register(project, booster, pipeline, signature)
        drop = ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env["FORGEML_PROJECT"] = str(project)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)  # filled by each job's unmeasured run

        floor, floor_cpu = median_of(
            lambda: run_once([sys.executable, "-c", "pass"], env), args.repeat
        )
        rows = [
            (
                "forgeml --help",
                median_of(lambda: run_once([*CLI, "--help"], env), args.repeat),
                floor + 0.25,
                "floor + 0.25 s",
            ),
            (
                "forgeml --version",
                median_of(lambda: run_once([*CLI, "--version"], env), args.repeat),
                floor + 0.25,
                "floor + 0.25 s",
            ),
            (
                "forgeml models",
                median_of(lambda: run_once([*CLI, "models"], env), args.repeat),
                floor + 1.0,
                "floor + 1 s",
            ),
            ("import forgeml", median_of(lambda: import_once(env), args.repeat), 0.3, "0.3 s"),
            (
                "forgeml serve until /ready",
                median_of(lambda: serve_once(env), args.repeat),
                3.0,
                "3 s",
            ),
        ]

    print(
        f"median of {args.repeat} runs each; floor (python -c pass): {floor:.3f} s "
        f"({floor_cpu:.3f} s CPU); 1-minute load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"{'job':<28} {'median s':>9} {'cpu s':>7} {'target s':>9}  target")
    print("-" * 72)
    missed = 0
    for name, (seconds, cpu), target, rule in rows:
        verdict = "PASS" if seconds <= target else "MISS"
        missed += verdict == "MISS"
        print(f"{name:<28} {seconds:>9.3f} {cpu:>7.3f} {target:>9.3f}  <= {rule}: {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
