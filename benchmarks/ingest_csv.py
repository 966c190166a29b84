"""Benchmark: ingest a large CSV into a forgeml dataset version vs. plain pandas.

Claim: ``forgeml.ingest`` of a 1,000,000-row x 30-column CSV (parse, normalise types,
validate, content hash, column profile + schema inference, zstd Parquet, content-addressed
artifact store, SQLite metadata record) takes at most 1.5x the time and 1.5x the peak
memory of ``pandas.read_csv(path)`` + ``DataFrame.to_parquet(out)`` on the same file.

Each job runs in its own fresh child process (see ``_measure.py``): wall time covers the
job only (imports and project setup excluded), peak memory is the child's raw peak RSS.
The order of the two jobs alternates between repeats; the file is read once, untimed,
before the first job so that both start from a warm page cache, and each job runs once,
unmeasured, on the first rows so that both find their modules' bytecode compiled.

    .venv/bin/python benchmarks/ingest_csv.py                 # 1,000,000 rows, 3 repeats
    .venv/bin/python benchmarks/ingest_csv.py --rows 100000 --repeat 1
    .venv/bin/python benchmarks/ingest_csv.py --stages        # also time each ingest stage

The CSV is generated deterministically (seeded numpy) into ``benchmarks/.data/``; pass
``--keep`` to keep it there, and later runs with the same parameters reuse it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import (
    DATA_DIR,
    ISOLATING_ENV,
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
WARMUP_ROWS = 1000
GENERATOR_VERSION = 1  # bump when the generated data changes
TARGET_RATIO = 1.5
JOBS = ("baseline", "forgeml")

# name -> cardinality of the categorical columns (values are Zipf-like skewed)
CATEGORIES = {
    "plan": 3,
    "region": 12,
    "device": 50,
    "campaign": 200,
    "city": 1000,
    "store": 2500,
    "product": 5000,
}
# columns with nulls -> fraction of null values
NULLS = {
    "amount": 0.03,
    "score_a": 0.01,
    "latency_ms": 0.05,
    "quantity": 0.02,
    "region": 0.03,
    "campaign": 0.04,
    "updated_at": 0.05,
    "is_active": 0.01,
}


# -- data -----------------------------------------------------------------------------------


def csv_path(rows: int, seed: int) -> Path:
    return DATA_DIR / f"ingest_{rows}rows_seed{seed}_v{GENERATOR_VERSION}.csv"


def generate_csv(path: Path, rows: int, seed: int) -> None:
    """Write the benchmark CSV: 15 float, 5 int, 7 category, 2 timestamp, 1 boolean column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}

    floats = {
        "amount": np.round(rng.lognormal(3.0, 1.0, rows), 2),
        "price": np.round(rng.uniform(0.5, 500.0, rows), 2),
        "discount": np.round(rng.beta(2.0, 8.0, rows), 3),
        "score_a": np.round(rng.normal(0.0, 1.0, rows), 4),
        "score_b": np.round(rng.normal(10.0, 3.0, rows), 4),
        "score_c": rng.normal(0.0, 1.0, rows),
        "latency_ms": np.round(rng.gamma(2.0, 40.0, rows), 1),
        "temperature": np.round(rng.normal(21.0, 4.0, rows), 1),
        "ratio": rng.uniform(0.0, 1.0, rows),
        "lat": np.round(rng.uniform(-60.0, 70.0, rows), 6),
        "lon": np.round(rng.uniform(-180.0, 180.0, rows), 6),
        "weight_kg": np.round(rng.lognormal(1.0, 0.5, rows), 3),
        "balance": np.round(rng.normal(1500.0, 900.0, rows), 2),
        "rate": np.round(rng.exponential(0.05, rows), 5),
        "embedding_0": rng.standard_normal(rows).astype(np.float32).astype(np.float64),
    }
    columns.update(floats)
    columns["customer_id"] = rng.permutation(rows).astype(np.int64) + 100_000
    columns["age"] = rng.integers(18, 91, rows)
    columns["quantity"] = rng.poisson(3.0, rows)
    columns["visits"] = rng.negative_binomial(2, 0.1, rows)
    columns["postcode"] = rng.integers(1000, 99_999, rows)
    for name, cardinality in CATEGORIES.items():
        weights = 1.0 / np.arange(1, cardinality + 1) ** 1.1
        codes = rng.choice(cardinality, size=rows, p=weights / weights.sum())
        vocabulary = pa.array([f"{name}_{k:04d}" for k in range(cardinality)])
        columns[name] = vocabulary.take(pa.array(codes))
    start = np.datetime64("2020-01-01T00:00:00", "s").astype(np.int64)
    created = start + rng.integers(0, 5 * 365 * 86_400, rows)
    updated = created + rng.exponential(30 * 86_400, rows).astype(np.int64)
    for name, seconds in (("created_at", created), ("updated_at", updated)):
        stamps = pa.array(seconds, pa.int64()).cast(pa.timestamp("s"))
        columns[name] = pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")
    columns["is_active"] = rng.random(rows) < 0.7

    arrays = []
    for name, values in columns.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        if name in NULLS:
            array = pc.if_else(pa.array(rng.random(rows) < NULLS[name]), None, array)
        arrays.append(array)
    table = pa.table(arrays, names=list(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.part")
    pacsv.write_csv(table, partial, pacsv.WriteOptions(quoting_style="none"))
    partial.replace(path)


def warm_page_cache(path: Path) -> float:
    """Read the whole file once (untimed by the comparison); returns the seconds it took."""
    start = time.perf_counter()
    with path.open("rb") as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - start


def warm_bytecode_cache(path: Path) -> None:
    """Run each job once, unmeasured, on the file's first rows to fill the bytecode cache."""
    with tempfile.TemporaryDirectory(prefix="bench-warmup-") as folder:
        sample = Path(folder) / "warmup.csv"
        with path.open("rb") as source, sample.open("wb") as out:
            for _, line in zip(range(WARMUP_ROWS + 1), source, strict=False):
                out.write(line)
        for job in JOBS:
            run_job(job, sample)


# -- child jobs ------------------------------------------------------------------------------


def child_baseline(path: Path) -> None:
    import pandas as pd
    import pyarrow.parquet  # noqa: F401  (imported by to_parquet; kept out of the timing)

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        out = Path(folder) / "out.parquet"
        start = ready()
        frame = pd.read_csv(path)
        frame.to_parquet(out)
        wall = time.perf_counter() - start
        report(wall, rows=len(frame), columns=frame.shape[1], parquet_bytes=out.stat().st_size)


def child_forgeml(path: Path) -> None:
    import forgeml

    with tempfile.TemporaryDirectory(prefix="bench-forgeml-") as folder:
        project = forgeml.init(folder)
        try:
            start = ready()
            result = forgeml.ingest(path, name="bench", project=project)
            wall = time.perf_counter() - start
            version = result.version
            report(
                wall,
                rows=version.rows,
                columns=version.columns,
                parquet_bytes=_artifact_size(Path(folder)),
                created=result.created,
            )
        finally:
            project.close()


def _artifact_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("sha256/*/*") if p.is_file())


def child_stages(path: Path) -> None:
    """Each stage of ``forgeml.ingest``, in its order, timed alone with the RSS after it.

    Mirrors forgeml/data/ingest.py, but one stage at a time: ingest itself writes the
    Parquet file while it profiles, so its total is less than the sum printed here.
    """
    import getpass
    import socket

    import pyarrow.parquet as pq

    import forgeml
    from _measure import current_rss_mib, peak_rss_mib
    from forgeml.data.hashing import content_hash
    from forgeml.data.normalize import normalize
    from forgeml.data.profile import profile_table
    from forgeml.data.schema import infer_schema
    from forgeml.data.sources import read_file
    from forgeml.data.validation import validate
    from forgeml.store import datasets as queries

    stages: list[dict[str, Any]] = []

    def stage(name: str, began: float) -> float:
        now = time.perf_counter()
        stages.append(
            {"stage": name, "s": now - began, "rss": current_rss_mib(), "peak": peak_rss_mib()}
        )
        return now

    with tempfile.TemporaryDirectory(prefix="bench-stages-") as folder:
        project = forgeml.init(folder)
        try:
            start = t = ready()
            loaded = read_file(path)
            t = stage("read_file (pyarrow.csv)", t)
            table = normalize(loaded.table)
            del loaded
            t = stage("normalize", t)
            violations = validate(table, project.spec.dataset("bench").validation)
            t = stage("validate", t)
            digest = content_hash(table)
            t = stage("content_hash", t)
            profile = profile_table(table)
            t = stage("profile_table", t)
            schema = infer_schema(table, profile)
            t = stage("infer_schema", t)
            out = project.tmp_dir / "stages.parquet"
            pq.write_table(table, out, compression="zstd")
            size = out.stat().st_size
            t = stage("parquet write (zstd)", t)
            sha = project.artifacts.put_file(out, move=True)
            t = stage("artifacts.put_file", t)
            with project.store.write() as session:
                queries.add_version(
                    session,
                    name="bench",
                    content_hash=digest,
                    artifact_sha256=sha,
                    size_bytes=size,
                    n_rows=table.num_rows,
                    n_columns=table.num_columns,
                    schema=schema,
                    profile=profile,
                    source=str(path),
                    created_by=f"{getpass.getuser()}@{socket.gethostname()}",
                )
            stage("metadata record (SQLite)", t)
            report(time.perf_counter() - start, stages=stages, violations=len(violations))
        finally:
            project.close()


# -- parent ----------------------------------------------------------------------------------


def run_job(job: str, path: Path) -> Measurement:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", job, "--csv", str(path)]
    return run_child(argv, unset_env=ISOLATING_ENV, cwd=HERE.parent, pycache_dir=PYCACHE_DIR)


def _ratio_line(what: str, ratio: float) -> str:
    verdict = "PASS" if ratio <= TARGET_RATIO else "MISS"
    return f"target   : forgeml {what} <= {TARGET_RATIO:g}x baseline: {ratio:.2f}x  {verdict}"


def print_table(results: dict[str, Summary]) -> None:
    base = results["baseline"]
    header = (
        f"{'job':<10} {'wall s (median)':>16} {'min-max s':>11} {'cpu s':>6} "
        f"{'peak MiB (max)':>15} {'after-import MiB':>17} {'time x':>7} {'memory x':>9}"
    )
    print(header)
    print("-" * len(header))
    for job in JOBS:
        s = results[job]
        spread = f"{s.wall_s_min:.2f}-{s.wall_s_max:.2f}"
        print(
            f"{job:<10} {s.wall_s_median:>16.2f} {spread:>11} {s.cpu_s_median:>6.2f} "
            f"{s.peak_rss_mib_max:>15.0f} {s.ready_rss_mib_max:>17.0f} "
            f"{s.wall_s_median / base.wall_s_median:>7.2f} "
            f"{s.peak_rss_mib_max / base.peak_rss_mib_max:>9.2f}"
        )
    fml = results["forgeml"]
    print(_ratio_line("wall time  ", fml.wall_s_median / base.wall_s_median))
    print(_ratio_line("peak memory", fml.peak_rss_mib_max / base.peak_rss_mib_max))


def print_stages(m: Measurement) -> None:
    print("\nforgeml ingest, stage by stage, each alone (ingest overlaps the Parquet write")
    print("with profiling, so its wall time is below this sum; RSS/peak in MiB after each stage):")
    print(f"  {'stage':<26} {'s':>7} {'RSS':>7} {'peak':>7}")
    for row in m.extra["stages"]:
        print(f"  {row['stage']:<26} {row['s']:>7.2f} {row['rss']:>7.0f} {row['peak']:>7.0f}")
    print(f"  {'total':<26} {m.wall_s:>7.2f} {'':>7} {m.peak_rss_mib:>7.0f}")
    print(f"  (RSS after imports + project init: {m.ready_rss_mib:.0f} MiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each job")
    parser.add_argument("--seed", type=int, default=20_261_121, help="data generator seed")
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV for reuse")
    parser.add_argument("--stages", action="store_true", help="also time each ingest stage")
    parser.add_argument("--child", choices=[*JOBS, "stages"], help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        jobs = {"baseline": child_baseline, "forgeml": child_forgeml, "stages": child_stages}
        jobs[args.child](args.csv)
        return 0
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    path = csv_path(args.rows, args.seed)
    generated = not path.exists()
    try:
        if generated:
            print(f"generating {path.name} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            generate_csv(path, args.rows, args.seed)
            print(f"  done in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
        warm = warm_page_cache(path)
        warm_bytecode_cache(path)
        with path.open("r", encoding="utf-8") as f:
            n_columns = len(f.readline().split(","))

        print("\n".join(machine_facts(installed_versions("forgeml", "pandas", "pyarrow", "numpy"))))
        print(
            f"dataset  : {args.rows:,} rows x {n_columns} columns (15 float, 5 int, "
            f"{len(CATEGORIES)} category, 2 timestamp, 1 boolean), "
            f"{path.stat().st_size / 2**20:.1f} MiB CSV ({'generated' if generated else 'cached'}"
            f", warm-up read {warm:.2f}s)"
        )
        print(f"repeats  : {args.repeat} per job, alternating order; wall = median, peak = max")
        print(f"load     : 1-minute load average {load_average()} before the first job")
        print(
            f"children : fresh process per job, {', '.join(ISOLATING_ENV)} unset, bytecode "
            f"cached in {PYCACHE_DIR.relative_to(HERE.parent)} (warmed by an unmeasured "
            f"{WARMUP_ROWS}-row run of each job)"
        )
        print()

        runs: dict[str, list[Measurement]] = {job: [] for job in JOBS}
        for i in range(args.repeat):
            order = JOBS if i % 2 == 0 else JOBS[::-1]
            for job in order:
                m = run_job(job, path)
                if m.extra.get("rows") != args.rows:
                    raise SystemExit(f"{job} read {m.extra.get('rows')} rows, not {args.rows}")
                runs[job].append(m)
                print(
                    f"  run {i + 1} {job:<8} {m.wall_s:7.2f}s  cpu {m.cpu_s:6.2f}s"
                    f"  peak {m.peak_rss_mib:7.0f} MiB"
                    f"  parquet {m.extra['parquet_bytes'] / 2**20:6.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )

        print_table({job: summarize(ms) for job, ms in runs.items()})
        print(f"load     : 1-minute load average {load_average()} after the last job")
        print(
            "baseline : pandas.read_csv(path) + DataFrame.to_parquet(out) (defaults: snappy); "
            "forgeml: forgeml.ingest(path) into a fresh project (SQLite + local artifacts)"
        )
        if args.stages:
            print_stages(run_job("stages", path))
    finally:
        if generated and not args.keep:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
