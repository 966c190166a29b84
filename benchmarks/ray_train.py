"""Benchmark: ``forgeml train`` with 16 search trials, local vs. ``--backend ray``.

Claim: on a machine with 2 CPUs, running the search's trials as Ray tasks (2 at once, one
thread each; Optuna's sampler in the driver) makes the whole ``train`` at least 1.7x
faster than the local search (one trial at a time, its native thread pools on every
core), on the same table, spec and seed.

Both runs happen in this process, one after the other, on the same generated table
(numeric and categorical columns, a binary target), each in a fresh project; Ray is
started (``num_cpus=2``) before the Ray run's clock starts, its workers are not. What is
timed is ``train(...)`` end to end: the search, the winner's refit, evaluation, gate and
registration, which run in the driver either way.

Scaling model for N machines of c CPUs: the search's share of the time divides by about
N*c / (threads a local trial uses well); the driver's part (loading, the winner's fit and
refit, evaluation, registration) does not, so the speed-up tends to
``1 / (driver share + search share / (N*c))`` (Amdahl). The ratio printed here is that
of N=1, c=2.

    .venv/bin/python benchmarks/ray_train.py                 # 1,000,000 rows
    .venv/bin/python benchmarks/ray_train.py --rows 20000    # quick
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.7
SPEC = """\
project: bench-ray-train
train:
  target: y
  candidates: [lightgbm]
  budget: {{trials: {trials}}}
  calibrate: never
  split: {{method: random}}
gate:
  metrics: {{roc_auc: {{min: 0.5}}}}
"""


def table(rows: int, seed: int = 0) -> object:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns = {f"x{i}": rng.normal(size=rows) for i in range(12)}
    columns["region"] = rng.choice([f"r{i}" for i in range(8)], size=rows)
    signal = columns["x0"] - 0.5 * columns["x1"] * columns["x2"] + (columns["region"] == "r3")
    columns["y"] = (signal + rng.normal(scale=1.5, size=rows)) > 0.8
    return pa.table(columns)


def train_once(root: Path, data: object, trials: int, backend: str) -> tuple[float, object]:
    from forgeml.config import SPEC_FILE
    from forgeml.data import ingest
    from forgeml.project import Project
    from forgeml.training.trainer import train

    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(SPEC.format(trials=trials))
    with Project.init(root) as project:
        ingest(data, name="bench", project=project)
        began = time.perf_counter()
        result = train(project=project, backend=backend)
        return time.perf_counter() - began, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=16)
    args = parser.parse_args()
    for name in ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL", "FORGEML_PROJECT"):
        os.environ.pop(name, None)
    import ray

    data = table(args.rows)
    print(f"{args.rows:,} rows, {args.trials} trials, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        local_s, local = train_once(Path(folder) / "local", data, args.trials, "local")
        print(f"local: {local_s:.1f}s  winner {local.candidate} {local.params}")  # type: ignore[attr-defined]
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            ray_s, on_ray = train_once(Path(folder) / "ray", data, args.trials, "ray")
        finally:
            ray.shutdown()
        print(f"ray:   {ray_s:.1f}s  winner {on_ray.candidate} {on_ray.params}")  # type: ignore[attr-defined]
    ratio = local_s / ray_s
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    print(
        f"forgeml ray {ray_s:.1f}s, anchor (local) {local_s:.1f}s, "
        f"speed-up {ratio:.2f}x (target >= {TARGET_RATIO}x): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
