"""Benchmark: batch scoring a large Parquet file, local vs. ``--backend ray`` (Ray Data).

Claim: ``predict_file_ray`` (Ray Data: a read task streams the file's chunks, two scoring
actors that load the model once, the driver writes each scored chunk as it arrives)
writes exactly the file local batch scoring writes (the same sha256 of the output's rows),
and its memory stays bounded: the driver's peak RSS stays within a fixed margin of the
local scorer's (it never holds the whole file), whatever the file's size.

The issue's shape is 10,000,000 rows; the default here is 2,000,000 rows (16 columns, a
LightGBM model) so that both runs fit a shared 2-CPU machine in a few minutes; ``--rows``
sets it. Each job runs in a fresh child process (see ``_measure.py``): the local one's
figure is its peak RSS; the Ray one's are the driver's peak RSS and the peak of the RSS
summed over the driver and every process of its Ray (raylet, workers, sampled every
0.2 s; shared object-store pages are counted in each process that maps them, so this
sum over-counts). Ray is started (``num_cpus=2``) before the Ray job's clock starts.

    .venv/bin/python benchmarks/ray_predict.py                  # 2,000,000 rows
    .venv/bin/python benchmarks/ray_predict.py --rows 200000    # quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _measure import Measurement, peak_rss_mib, ready, report, run_child

HERE = Path(__file__).resolve().parent
PYCACHE_DIR = HERE / ".data" / "pycache"
ISOLATING_ENV = ("FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL", "FORGEML_PROJECT")
MODEL = "scores"
CHUNK_ROWS = 100_000
MARGIN_MIB = 300.0  # the Ray driver's peak may exceed the local scorer's by at most this
SPEC = """\
project: bench-ray-predict
train:
  target: y
  candidates: [lightgbm]
  budget: {trials: 1}
  calibrate: never
gate:
  metrics: {roc_auc: {min: 0.5}}
"""


def table(rows: int, seed: int) -> object:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns = {f"x{i}": rng.normal(size=rows) for i in range(12)}
    columns["region"] = rng.choice([f"r{i}" for i in range(8)], size=rows)
    columns["channel"] = rng.choice(["web", "branch", "phone"], size=rows)
    columns["id"] = np.arange(rows, dtype=np.int64)
    signal = columns["x0"] - 0.5 * columns["x1"] * columns["x2"] + (columns["region"] == "r3")
    columns["y"] = (signal + rng.normal(scale=1.5, size=rows)) > 0.8
    return pa.table(columns)


def prepare(folder: Path, rows: int) -> tuple[Path, Path]:
    """A project with a registered model, and the input file of ``rows`` rows."""
    import pyarrow.parquet as pq

    from forgeml.config import SPEC_FILE
    from forgeml.data import ingest
    from forgeml.project import Project
    from forgeml.training.trainer import train

    root = folder / "project"
    root.mkdir(parents=True)
    (root / SPEC_FILE).write_text(SPEC)
    with Project.init(root) as project:
        ingest(table(20_000, seed=0), name=MODEL, project=project)
        train(project=project, exclude=["id"])
    source = folder / "input.parquet"
    with pq.ParquetWriter(source, table(1, seed=1).drop_columns(["y"]).schema) as writer:  # type: ignore[attr-defined]
        for start in range(0, rows, 500_000):
            part = table(min(500_000, rows - start), seed=2 + start)
            writer.write_table(part.drop_columns(["y"]))  # type: ignore[attr-defined]
    return root, source


def rows_sha256(path: Path) -> tuple[str, int]:
    """sha256 of the file's rows (Arrow IPC of fixed-size batches): the same rows, the same
    hash, however the file's row groups were cut."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    digest, rows = hashlib.sha256(), 0
    reader = pq.ParquetFile(path)
    for batch in reader.iter_batches(batch_size=65_536):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as stream:
            stream.write_batch(batch)
        digest.update(sink.getvalue().to_pybytes())
        rows += batch.num_rows
    return digest.hexdigest(), rows


class RaySampler:
    """The peak of the RSS summed over this process and all its descendants (Ray's)."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.2):
            total = 0
            for process in [self._me, *self._me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mib = max(self.peak_mib, total / 2**20)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mib


def child(job: str, root: Path, source: Path, output: Path) -> None:
    from forgeml.project import Project

    if job == "local":
        from forgeml.serve.batch import predict_file

        with Project.load(root) as project:
            began = ready()
            result = predict_file(MODEL, source, output, project=project, chunk_rows=CHUNK_ROWS)
            report(time.perf_counter() - began, rows=result.rows)
        return
    import ray

    from forgeml.serve.batch_ray import predict_file_ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with Project.load(root) as project:
            sampler = RaySampler()
            began = ready()
            done = predict_file_ray(MODEL, source, output, project=project, chunk_rows=CHUNK_ROWS)
            seconds = time.perf_counter() - began
            report(seconds, rows=done["rows"], whole_ray_peak_mib=sampler.stop())
    finally:
        ray.shutdown()


def run(job: str, root: Path, source: Path, output: Path) -> Measurement:
    argv = [sys.executable, __file__, "--child", job, str(root), str(source), str(output)]
    return run_child(argv, unset_env=ISOLATING_ENV, pycache_dir=PYCACHE_DIR)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--child", nargs=4, metavar=("JOB", "ROOT", "INPUT", "OUTPUT"))
    parser.add_argument("--prepare", metavar="FOLDER")
    args = parser.parse_args()
    if args.child:
        job, root, source, output = args.child
        child(job, Path(root), Path(source), Path(output))
        return 0
    if args.prepare:
        prepare(Path(args.prepare), args.rows)
        return 0
    for name in ISOLATING_ENV:
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="forgeml-ray-predict-") as scratch:
        folder = Path(scratch)
        # In a process of its own: a child's peak RSS starts from its parent's (Linux keeps
        # the high-water mark across exec), so this process must stay small.
        argv = [sys.executable, __file__, "--prepare", scratch, "--rows", str(args.rows)]
        subprocess.run(argv, check=True)
        root, source = folder / "project", folder / "input.parquet"
        size = source.stat().st_size / 2**20
        print(f"{args.rows:,} rows, {size:.0f} MiB of Parquet, {os.cpu_count()} CPUs")
        local = run("local", root, source, folder / "local.parquet")
        on_ray = run("ray", root, source, folder / "ray.parquet")
        local_hash, local_rows = rows_sha256(folder / "local.parquet")
        ray_hash, ray_rows = rows_sha256(folder / "ray.parquet")
    same = local_hash == ray_hash and local_rows == ray_rows == args.rows
    whole = float(on_ray.extra["whole_ray_peak_mib"])
    print(
        f"local (anchor): {local.wall_s:.1f}s, peak RSS {local.peak_rss_mib:.0f} MiB, "
        f"output rows sha256 {local_hash[:16]}"
    )
    print(
        f"ray data: {on_ray.wall_s:.1f}s, driver peak RSS {on_ray.peak_rss_mib:.0f} MiB, "
        f"driver + Ray processes peak {whole:.0f} MiB, output rows sha256 {ray_hash[:16]}"
    )
    print(f"ratio ray / local time: {on_ray.wall_s / local.wall_s:.2f}x")
    bounded = on_ray.peak_rss_mib <= local.peak_rss_mib + MARGIN_MIB
    verdict = "PASS" if same and bounded else "MISS"
    print(
        f"{verdict}: same output ({'yes' if same else 'NO'}), Ray driver peak within "
        f"{MARGIN_MIB:.0f} MiB of local ({'yes' if bounded else 'NO'}) (this script's own "
        f"process peaked at {peak_rss_mib():.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
