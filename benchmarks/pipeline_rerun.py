"""Pipeline re-run with nothing changed: every step reused, none executed, in ≤ 2 s.

Claim: ``forgeml pipeline run nightly`` on the example pipeline (examples/pipeline: ingest,
validate, train, gate, register, batch predict, a user step), run a second time with no
input changed, executes zero steps and takes ≤ 2 s end to end (a fresh ``forgeml`` process,
start-up included, with compiled bytecode as an installed environment has it, even where
``PYTHONDONTWRITEBYTECODE`` is set). The anchor is the same pipeline with its cache bypassed
(``--from ingest``: every step executes), measured in the same run; the ratio says what
the cache saves.

    .venv/bin/python benchmarks/pipeline_rerun.py          # --repeat 3 for a quick check
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pipeline"
TARGET_S = 2.0
PYCACHE_DIR = ROOT / "benchmarks" / ".data" / "pycache"  # filled by the first, unmeasured run
RAN = re.compile(r"(\d+) steps? ran, (\d+) reused")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: list[float] = []  # CPU seconds of each run, beside its wall time (a loaded machine)


def run(project: Path, *extra: str) -> tuple[float, int, int]:
    """Seconds of one ``forgeml pipeline run nightly`` process, steps run, steps reused."""
    cpu = children_cpu()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGEML_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_DIR)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    began = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "forgeml.cli",
            "--project",
            str(project),
            "pipeline",
            "run",
            "nightly",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - began
    CPU.append(children_cpu() - cpu)
    found = RAN.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"pipeline run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, int(found.group(1)), int(found.group(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "credit"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("out", ".forgeml"))
        first, ran, _ = run(project)
        print(f"first run: {first:.1f} s, {ran} steps executed")
        cached = [run(project) for _ in range(args.repeat)]
        cached_cpu = statistics.median(CPU[-args.repeat :])
        anchor = [run(project, "--from", "ingest") for _ in range(max(1, args.repeat // 2))]
    ours = statistics.median(s for s, _, _ in cached)
    executed = max(r for _, r, _ in cached)
    uncached = statistics.median(s for s, _, _ in anchor)
    print(
        f"re-run, nothing changed (median of {len(cached)}): {ours:.2f} s, "
        f"{executed} steps executed, {cached[0][2]} reused; CPU {cached_cpu:.2f} s "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"anchor, cache bypassed (--from ingest, median of {len(anchor)}): {uncached:.2f} s, "
        f"{anchor[0][1]} steps executed"
    )
    print(f"ratio anchor / re-run: {uncached / ours:.1f}x")
    verdict = "PASS" if ours <= TARGET_S and executed == 0 else "MISS"
    print(f"{verdict}: re-run ≤ {TARGET_S:.0f} s with zero steps executed")


if __name__ == "__main__":
    main()
