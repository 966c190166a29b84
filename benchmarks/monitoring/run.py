"""Benchmark: a drift report on 1,000,000 + 1,000,000 rows × 20 columns, forgeml vs.
Evidently's ``DataDriftPreset``, and both systems' false-alarm and detection rates.

Claims, each side measured in the same invocation:

* speed and memory: ``fit_reference`` + ``profile_window`` + ``compare`` on a reference
  and a current Parquet file (1M rows each, 15 numeric and 5 categorical columns, three
  numeric columns shifted by 0.25, 0.1 and 0.05 SD and one categorical re-weighted) takes
  ≤ 1/50 the wall time and ≤ 1/5 the peak memory of reading the same files with pandas
  and running ``Report([DataDriftPreset()])``. Each job runs in a fresh child process;
  wall time covers reading the files through the report, not the imports.
* calibration: over A/A splits (reference and window of the same size, drawn without
  replacement from one pool), forgeml flags a dataset as drifted in ≤ 5% of splits at
  every window size; its detection rate on windows with the five continuous columns
  shifted by 0.05, 0.1 and 0.25 SD is at least Evidently's.

Evidently's rates come from the per-column tests its preset runs (its default test for
the column's type and sizes, at the default threshold), called directly: a full report
costs minutes at 1M rows. On the first split of each size up to ``--check-rows`` a full
``DataDriftPreset`` report is run as well and must flag the same columns. Its dataset
flag is the preset's own (drift share ≥ 0.5); the share of splits with any column
flagged is printed beside it.

Evidently runs in its own environment, created on first use at
``benchmarks/.venvs/evidently`` (``uv venv`` + ``uv pip install evidently==VERSION
'pandas<3' pyarrow``).

    .venv/bin/python benchmarks/monitoring/run.py                      # everything
    .venv/bin/python benchmarks/monitoring/run.py --rows 100000 --sizes 1000 100000 --splits 20
    .venv/bin/python benchmarks/monitoring/run.py --skip-rates          # timing only
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parent
sys.path[:0] = [str(HERE), str(BENCHMARKS)]

from _measure import (  # noqa: E402
    DATA_DIR,
    ISOLATING_ENV,
    PYCACHE_DIR,
    Measurement,
    anchor_python,
    installed_versions,
    load_average,
    machine_facts,
    run_child,
    summarize,
    venv_versions,
)
from data import SHIFTED, TIMING_CATEGORY, TIMING_SHIFTS, ensure  # noqa: E402

EVIDENTLY_VENV = BENCHMARKS / ".venvs" / "evidently"
EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_PACKAGES = (f"evidently=={EVIDENTLY_VERSION}", "pandas<3", "pyarrow")
TARGET_SPEED = 50.0
TARGET_MEMORY = 5.0
TARGET_FALSE_ALARMS = 0.05
QUIET = {"DO_NOT_TRACK": "1"}  # no telemetry from Evidently


def child(args: argparse.Namespace) -> None:
    import jobs

    paths = ensure(DATA_DIR, args.rows)
    sigma = json.loads(paths["facts"].read_text())["sigma"]
    if args.child == "timing-forgeml":
        jobs.timing_forgeml(paths["reference"], paths["current"])
    elif args.child == "timing-evidently":
        jobs.timing_evidently(paths["reference"], paths["current"])
    elif args.child == "rates-forgeml":
        jobs.rates_forgeml(paths["pool"], args.sizes, args.splits, args.shifts, sigma)
    else:
        splits = args.evidently_splits or args.splits
        jobs.rates_evidently(paths["pool"], args.sizes, splits, args.shifts, sigma, args.check_rows)


def run_job(
    python: Path, job: str, args: argparse.Namespace, splits: list[int] | None = None
) -> Measurement:
    argv = [str(python), str(Path(__file__).resolve()), "--child", job, "--rows", str(args.rows)]
    argv += ["--sizes", *map(str, args.sizes), "--shifts", *map(str, args.shifts)]
    argv += ["--splits", *map(str, args.splits), "--check-rows", str(args.check_rows)]
    if splits is not None:
        argv += ["--evidently-splits", *map(str, splits)]
    return run_child(argv, unset_env=ISOLATING_ENV, set_env=QUIET, pycache_dir=PYCACHE_DIR)


def evidently_python() -> Path:
    """The Evidently environment's interpreter, creating the environment if needed."""
    return anchor_python(EVIDENTLY_VENV, EVIDENTLY_PACKAGES, {"evidently": EVIDENTLY_VERSION})


def timing(args: argparse.Namespace, pythons: dict[str, Path]) -> bool:
    runs: dict[str, list[Measurement]] = {"evidently": [], "forgeml": []}
    wanted = {"evidently": args.evidently_repeat, "forgeml": args.repeat}
    for i in range(max(wanted.values())):
        for job in ("forgeml", "evidently") if i % 2 else ("evidently", "forgeml"):
            if len(runs[job]) < wanted[job]:
                m = run_job(pythons[job], f"timing-{job}", args)
                runs[job].append(m)
                note = f"  run {i + 1} {job:<9} {m.wall_s:8.2f}s  peak {m.peak_rss_mib:7.0f} MiB"
                print(note, file=sys.stderr, flush=True)
    summary = {job: summarize(ms) for job, ms in runs.items()}
    base = summary["evidently"]
    print(f"\ndrift report, {args.rows:,} reference + {args.rows:,} current rows x 20 columns")
    heads = ("job", "wall s (median)", "min-max s", "cpu s", "peak MiB", "after-import MiB")
    widths = (10, 16, 18, 8, 10, 18, 8, 10)
    print(_row([*heads, "time x", "memory x"], widths))
    print("-" * sum(widths))
    for job, s in summary.items():
        cells = [
            job,
            f"{s.wall_s_median:.2f}",
            f"{s.wall_s_min:.2f}-{s.wall_s_max:.2f}",
            f"{s.cpu_s_median:.1f}",
            f"{s.peak_rss_mib_max:.0f}",
            f"{s.ready_rss_mib_max:.0f}",
            f"{s.wall_s_median / base.wall_s_median:.4f}",
            f"{s.peak_rss_mib_max / base.peak_rss_mib_max:.3f}",
        ]
        print(_row(cells, widths))
    stages = runs["forgeml"][-1].extra["stages"]
    print(
        "forgeml  : stages of the last run: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in stages.items())
    )
    shifted = ", ".join(f"{k} +{v} SD" for k, v in TIMING_SHIFTS.items())
    print(f"shifted  : {shifted}, {TIMING_CATEGORY} re-weighted")
    for job in runs:
        extra = runs[job][-1].extra
        names = ", ".join(extra["drifted"]) or "-"
        print(f"flagged  : {job:<9} {names}  (dataset drift: {extra['dataset']})")
    f = summary["forgeml"]
    speed = base.wall_s_median / f.wall_s_median
    memory = base.peak_rss_mib_max / f.peak_rss_mib_max
    fast = _verdict(speed >= TARGET_SPEED)
    print(f"target   : forgeml >= {TARGET_SPEED:g}x faster: {speed:,.1f}x  {fast}")
    print(
        f"target   : forgeml <= 1/{TARGET_MEMORY:g} the peak memory: 1/{memory:.1f}  "
        f"{_verdict(memory >= TARGET_MEMORY)}"
    )
    return speed >= TARGET_SPEED and memory >= TARGET_MEMORY


def rates(args: argparse.Namespace, pythons: dict[str, Path]) -> bool:
    evidently_splits = args.evidently_splits or [
        count if size < 1_000_000 else min(count, 10)
        for count, size in zip(args.splits, args.sizes, strict=True)
    ]
    found: dict[str, dict[str, Any]] = {}
    for job in ("forgeml", "evidently"):
        print(f"  rates {job} ...", file=sys.stderr, flush=True)
        splits = evidently_splits if job == "evidently" else None
        m = run_job(pythons[job], f"rates-{job}", args, splits=splits)
        found[job] = m.extra
        print(f"  rates {job} took {m.wall_s:.0f}s", file=sys.stderr, flush=True)
    ours, theirs = found["forgeml"]["results"], found["evidently"]["results"]
    print("\nA/A false alarms: reference and window of one size, drawn without replacement")
    print("from one pool (col: share of column tests; dataset: share of splits)")
    heads = ("rows", "splits f/e", "forgeml col", "forgeml dataset", "evid. col", "evid. dataset")
    widths = (10, 12, 13, 17, 11, 15, 15)
    print(_row([*heads, "evid. any col"], widths))
    print("-" * sum(widths))
    calibrated = True
    for size in map(str, args.sizes):
        a, b = ours[size], theirs[size]
        calibrated &= a["aa_dataset_rate"] <= TARGET_FALSE_ALARMS
        cells = [
            f"{int(size):,}",
            f"{a['splits']}/{b['splits']}",
            f"{a['aa_column_rate']:.2%}",
            f"{a['aa_dataset_rate']:.2%}",
            f"{b['aa_column_rate']:.2%}",
            f"{b['aa_dataset_rate']:.2%}",
            f"{b['aa_any_column_rate']:.2%}",
        ]
        print(_row(cells, widths))
    print(f"\ndetection: share of the shifted columns ({', '.join(SHIFTED)}) flagged")
    widths = (10, 10, 10, 11)
    print(_row(["rows", "shift SD", "forgeml", "evidently"], widths))
    print("-" * sum(widths))
    detects = True
    for size in map(str, args.sizes):
        for shift in map(str, args.shifts):
            a, b = ours[size]["detection"][shift], theirs[size]["detection"][shift]
            detects &= a >= b
            cells = [f"{int(size):,}", f"{float(shift):g}", f"{a:.0%}", f"{b:.0%}"]
            print(_row(cells, widths) + ("" if a >= b else "  (below)"))
    matched = _matched_detection(args, ours, theirs)
    checks = found["evidently"].get("checks", {})
    if checks:
        same = ", ".join(f"{k} rows@SD: {'same' if v else 'DIFFERENT'}" for k, v in checks.items())
        print(
            f"check    : Evidently's direct tests vs a full DataDriftPreset report, split 0: {same}"
        )
    print(
        f"target   : forgeml A/A dataset false alarms <= 5% at every size: {_verdict(calibrated)}"
    )
    print(
        f"target   : forgeml detection >= Evidently's at every size and shift: {_verdict(detects)}"
    )
    print(
        "matched  : forgeml's tests at Evidently's own A/A column false-alarm rate detect at "
        f"least as much at every size and shift: {_verdict(matched)}"
    )
    return calibrated and detects


def _matched_detection(
    args: argparse.Namespace, ours: dict[str, Any], theirs: dict[str, Any]
) -> bool:
    """Detection of forgeml's per-column tests with the threshold set so that their A/A
    false-alarm rate equals Evidently's: which tests find more at the same cost."""
    print(
        "\ndetection at equal false alarms: forgeml's raw per-column p-values, thresholded at "
        "the\nquantile that gives its A/A columns Evidently's A/A column false-alarm rate "
        "(no effect-size\nfloor, no correction across columns); where the two rates are "
        "equal already, forgeml's own\ndecisions"
    )
    widths = (10, 10, 14, 17, 11)
    print(_row(["rows", "shift SD", "false alarms", "forgeml matched", "evidently"], widths))
    print("-" * sum(widths))
    better = True
    for size in map(str, args.sizes):
        rate = theirs[size]["aa_column_rate"]
        null = np.sort(np.asarray(ours[size]["pvalues"]["0.0"]))
        # the largest threshold whose A/A share of p <= threshold stays within Evidently's
        allowed = int(np.floor(rate * len(null)))
        threshold = null[allowed - 1] if allowed else -1.0
        # Where both false-alarm rates are the same already (none at all, say), forgeml's
        # own decisions are the comparison: a threshold below every A/A p-value is not.
        own = ours[size]["aa_column_rate"] == rate
        for shift in map(str, args.shifts):
            found = np.asarray(ours[size]["pvalues"][shift])
            a = float(np.mean(found <= threshold))
            if own:
                a = ours[size]["detection"][shift]
            b = theirs[size]["detection"][shift]
            better &= a >= b
            cells = [f"{int(size):,}", f"{float(shift):g}", f"{rate:.2%}", f"{a:.0%}", f"{b:.0%}"]
            note = "  (forgeml's own decisions)" if own else ""
            print(_row(cells, widths) + ("" if a >= b else "  (below)") + note)
    return better


def _row(cells: list[str], widths: tuple[int, ...]) -> str:
    return f"{cells[0]:<{widths[0]}}" + "".join(
        f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True)
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="reference rows (and current rows)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument(
        "--splits",
        type=int,
        nargs="+",
        default=[100],
        help="splits per size (one value or one per size)",
    )
    parser.add_argument(
        "--evidently-splits",
        type=int,
        nargs="+",
        help="Evidently's splits per size (default: --splits, at most 10 at 1M rows)",
    )
    parser.add_argument("--shifts", type=float, nargs="+", default=[0.05, 0.1, 0.25])
    parser.add_argument("--repeat", type=int, default=3, help="runs of forgeml's timing job")
    parser.add_argument(
        "--evidently-repeat", type=int, default=1, help="runs of Evidently's timing job"
    )
    parser.add_argument(
        "--check-rows", type=int, default=100_000, help="full-report check up to this size"
    )
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-rates", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if len(args.splits) == 1:
        args.splits = args.splits * len(args.sizes)
    if args.evidently_splits and len(args.evidently_splits) == 1:
        args.evidently_splits = args.evidently_splits * len(args.sizes)
    if max(args.sizes) > args.rows:
        parser.error("--sizes cannot exceed --rows (the pool holds 2 x rows)")
    if args.child:
        child(args)
        return 0
    paths = ensure(DATA_DIR, args.rows)
    pythons = {"forgeml": Path(sys.executable), "evidently": evidently_python()}
    for line in machine_facts(installed_versions("numpy", "pyarrow", "scipy")):
        print(line)
    anchor = venv_versions(pythons["evidently"], "evidently", "pandas", "numpy", "scipy")
    print(f"anchor   : evidently, pandas, numpy, scipy {anchor} (own environment)")
    print(f"data     : {paths['pool'].name}; load average {load_average()} before the first job")
    ok = True
    if not args.skip_timing:
        ok &= timing(args, pythons)
    if not args.skip_rates:
        ok &= rates(args, pythons)
    print(f"load     : 1-minute load average {load_average()} after the last job")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
