"""Benchmark: ``forgeml train`` with one fixed LightGBM configuration vs. LightGBM alone.

Claim: ``forgeml.train`` with ``candidates: [lightgbm]`` and ``budget: {trials: 1}`` (the
one trial is LightGBM's candidate defaults, so there is no search) takes at most 10% more
wall time than calling LightGBM directly on the same 1,000,000-row table: the same rows,
split the same way (random 60/20/20), the same estimator settings, early stopping on the
validation rows, predictions on the test rows.

Each job runs in its own fresh child process (see ``_measure.py``); the Parquet read is
outside the timing on both sides. forgeml's job is ``train(project=..., trials=1,
register=True)`` end to end (it reads its dataset version inside, so that read is timed
once more on its own and printed beside it). The direct job starts from the table in
memory: split with numpy, categories to integer codes, the timestamp to numeric parts,
``LGBMClassifier.fit`` with early stopping, ``predict_proba`` on the test rows.

    .venv/bin/python benchmarks/train_overhead.py                 # 1,000,000 rows, 3 repeats
    .venv/bin/python benchmarks/train_overhead.py --rows 100000 --repeat 1

The table is generated deterministically (seeded numpy) as Parquet in ``benchmarks/.data/``
and kept there; later runs with the same parameters reuse it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
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
WARMUP_ROWS = 5000
GENERATOR_VERSION = 1  # bump when the generated data changes
TARGET_OVERHEAD = 0.10
JOBS = ("direct", "forgeml")
N_NUMERIC = 25
CATEGORIES = {"plan": 3, "region": 8, "channel": 20, "segment": 50}
TIME_COLUMN = "event_at"
TARGET = "y"
POSITIVE_RATE = 0.15
SEED = 0  # forgeml's train.seed default; the direct job splits with the same seed
SPEC = """\
project: bench-train
train:
  target: y
  candidates: [lightgbm]
  budget: {trials: 1, time: 1h}
  calibrate: never
  split: {method: random}
"""


# -- data -----------------------------------------------------------------------------------


def parquet_path(rows: int, seed: int) -> Path:
    return DATA_DIR / f"train_{rows}rows_seed{seed}_v{GENERATOR_VERSION}.parquet"


def generate_parquet(path: Path, rows: int, seed: int) -> None:
    """25 float, 4 category, 1 timestamp column and a boolean target (~15% true)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((rows, N_NUMERIC))
    numeric[:, 5:10] = np.exp(numeric[:, 5:10])  # a few skewed columns
    numeric[rng.random((rows, N_NUMERIC)) < 0.01] = np.nan  # 1% missing everywhere
    weights = np.zeros(N_NUMERIC)
    weights[:12] = rng.normal(0.0, 0.6, 12)  # 12 informative columns, 13 noise
    logit = np.nan_to_num(numeric, nan=0.0) @ weights
    logit += 0.5 * np.sin(2.0 * np.nan_to_num(numeric[:, 0]))  # some non-linearity
    logit += 0.4 * np.nan_to_num(numeric[:, 1]) * np.nan_to_num(numeric[:, 2])
    columns: dict[str, Any] = {f"x{i:02d}": numeric[:, i] for i in range(N_NUMERIC)}
    for name, cardinality in CATEGORIES.items():
        codes = rng.integers(0, cardinality, rows)
        logit += rng.normal(0.0, 0.5, cardinality)[codes]
        vocabulary = pa.array([f"{name}_{k:02d}" for k in range(cardinality)])
        columns[name] = vocabulary.take(pa.array(codes))
    start = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    seconds = start + rng.integers(0, 2 * 365 * 86_400, rows)
    hour = (seconds // 3600) % 24
    logit += 0.6 * ((hour >= 18) | (hour < 2))  # evenings convert more
    columns[TIME_COLUMN] = pa.array(seconds, pa.int64()).cast(pa.timestamp("s"))
    # intercept chosen so that the positive rate is POSITIVE_RATE
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (
            (mid, hi) if np.mean(1 / (1 + np.exp(-(logit + mid)))) < POSITIVE_RATE else (lo, mid)
        )
    columns[TARGET] = rng.random(rows) < 1 / (1 + np.exp(-(logit + lo)))
    table = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in columns.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.part")
    pq.write_table(table, partial, compression="zstd")
    partial.replace(path)


def warmup_parquet(path: Path) -> Path:
    """The first WARMUP_ROWS rows of ``path``, for the unmeasured bytecode warm-up runs."""
    import pyarrow.parquet as pq

    out = DATA_DIR / f"{path.stem}_head{WARMUP_ROWS}.parquet"
    if not out.exists():
        pq.write_table(pq.read_table(path).slice(0, WARMUP_ROWS), out)
    return out


# -- child jobs ------------------------------------------------------------------------------


def child_direct(path: Path) -> None:
    import lightgbm
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    table = pq.read_table(path)
    threads = os.cpu_count() or 1
    start = ready()
    table = table.filter(pc.is_valid(table.column(TARGET)))
    y = np.asarray(table.column(TARGET).to_numpy(zero_copy_only=False), dtype=np.int64)
    names = [c for c in table.column_names if c != TARGET]
    parts: list[np.ndarray] = []
    for name in names:
        column = table.column(name)
        if name in CATEGORIES:  # integer codes in sorted order; missing -> NaN
            encoded = pc.dictionary_encode(column).combine_chunks()
            order = np.argsort(np.argsort(encoded.dictionary.to_numpy(zero_copy_only=False)))
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            parts.append(order[codes].astype(np.float64)[:, None])
        elif name == TIME_COLUMN:  # year, month, day, day of week, hour
            stamp = column.to_numpy().astype("datetime64[s]")
            days = stamp.astype("datetime64[D]")
            months = stamp.astype("datetime64[M]")
            parts.append(
                np.column_stack(
                    [
                        stamp.astype("datetime64[Y]").astype(np.int64) + 1970,
                        months.astype(np.int64) % 12 + 1,
                        (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
                        (days.astype(np.int64) + 3) % 7,
                        (stamp.astype(np.int64) // 3600) % 24,
                    ]
                ).astype(np.float64)
            )
        else:
            parts.append(column.to_numpy().astype(np.float64)[:, None])
    x = np.hstack(parts)
    rows = np.arange(len(y))
    rest, test = train_test_split(rows, test_size=0.2, random_state=SEED)
    train, valid = train_test_split(rest, test_size=0.2 / 0.8, random_state=SEED + 1)
    train, valid, test = np.sort(train), np.sort(valid), np.sort(test)
    balanced = np.bincount(y[train]).min() / len(train) < 0.2  # as train's class_weight: auto
    model = lightgbm.LGBMClassifier(
        n_estimators=2000,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        subsample=1.0,
        subsample_freq=0,
        colsample_bytree=1.0,
        reg_lambda=0.0,
        random_state=SEED,
        deterministic=True,
        force_row_wise=True,
        n_jobs=threads,
        verbose=-1,
        class_weight="balanced" if balanced else None,
    )
    model.fit(
        x[train],
        y[train],
        eval_X=(x[valid],),
        eval_y=(y[valid],),
        callbacks=[lightgbm.early_stopping(50, verbose=False)],
    )
    scores = model.predict_proba(x[test])[:, 1]
    wall = time.perf_counter() - start
    report(
        wall,
        rows=len(y),
        columns=table.num_columns,
        features=x.shape[1],
        best_iteration=int(model.best_iteration_ or 0),
        trees=int(model.booster_.current_iteration()),
        auc=float(roc_auc_score(y[test], scores)),
        test_rows=len(test),
    )


def _instrument(spans: dict[str, list[float]]) -> None:
    """Time the trainer's main steps by wrapping them (a few microseconds per call)."""
    from forgeml.data import DatasetVersion
    from forgeml.monitor import references
    from forgeml.training import candidates, fitting, outcome, plan, predict

    inside: list[str] = []  # only the outermost wrapped call is timed: spans never overlap

    def wrap(owner: Any, attr: str, label: str) -> None:
        original: Callable[..., Any] = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if inside:
                return original(*args, **kwargs)
            inside.append(label)
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spans.setdefault(label, []).append(time.perf_counter() - began)
                inside.pop()

        setattr(owner, attr, timed)

    wrap(DatasetVersion, "to_arrow", "read dataset version (Parquet)")
    for attr in ("infer_task", "check_leakage", "encode_target", "make_split"):
        wrap(plan, attr, "task, leakage check, split")
    wrap(plan, "check_storable", "candidate checks")
    wrap(fitting.Matrices, "get", "preprocessing (fit + transform)")
    wrap(candidates.Candidate, "fit", "LightGBM fit (+ validation scores)")
    wrap(fitting, "estimator_scores", "validation scores predicted again")
    wrap(fitting, "choose_calibration", "calibration")
    for attr in ("save_bundle", "load_bundle"):
        wrap(outcome, attr, "store + reload bundle")
    wrap(predict.Predictor, "scores", "test scores through the bundle")
    wrap(outcome, "slice_metrics", "slices")
    wrap(outcome, "_importance", "importance (permutation + gain)")
    for attr in ("champion_metrics", "evaluate_gate"):
        wrap(outcome, attr, "champion + gate")
    for attr in ("_curves", "render_card", "_log_outcome", "code_version", "package_versions"):
        wrap(outcome, attr, "curves, card, run artifacts")
    for attr in ("register_model", "promote"):
        wrap(outcome, attr, "register + promote")
    wrap(references, "store_reference", "monitoring reference (score + profile)")


def child_forgeml(path: Path) -> None:
    import forgeml
    from forgeml.training.trainer import train

    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        (Path(folder) / "forgeml.yaml").write_text(SPEC, encoding="utf-8")
        project = forgeml.init(folder)
        try:
            ingested = forgeml.ingest(path, name="bench", project=project)
            ref = ingested.version.ref
            began = time.perf_counter()
            forgeml.dataset(ref, project=project).to_arrow()
            read_s = time.perf_counter() - began
            spans: dict[str, list[float]] = {}
            _instrument(spans)
            events: list[tuple[float, str]] = []
            start = ready()

            def progress(text: str) -> None:
                events.append((time.perf_counter() - start, text))

            result = train(
                dataset_ref=ref, project=project, trials=1, register=True, progress=progress
            )
            wall = time.perf_counter() - start
            estimator = result.bundle.estimator if result.bundle else None
            context = result.context
            report(
                wall,
                importance=context["importance"]["permutation_method"],
                rows=context["dataset"]["rows"],
                columns=context["dataset"]["columns"],
                features=int(estimator.n_features_in_) if estimator is not None else None,
                best_iteration=int(estimator.best_iteration_ or 0) if estimator else None,
                trees=int(estimator.booster_.current_iteration()) if estimator else None,
                auc=float(result.test["roc_auc"]),
                test_rows=context["dataset"]["split"]["test"],
                registered=result.model is not None,
                read_s=read_s,
                events=events,
                spans={k: [sum(v), len(v)] for k, v in spans.items()},
            )
        finally:
            project.close()


# -- parent ----------------------------------------------------------------------------------


def run_job(job: str, path: Path) -> Measurement:
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", job, "--data", str(path)]
    return run_child(argv, unset_env=ISOLATING_ENV, cwd=HERE.parent, pycache_dir=PYCACHE_DIR)


def print_table(results: dict[str, Summary], last: dict[str, Measurement]) -> None:
    base = results["direct"]
    header = (
        f"{'job':<8} {'wall s (median)':>16} {'min-max s':>13} {'cpu s':>7} {'peak MiB':>9} "
        f"{'features':>8} {'trees (best)':>13} {'test AUC':>9} {'time x':>7}"
    )
    print(header)
    print("-" * len(header))
    for job in JOBS:
        s, m = results[job], last[job]
        spread = f"{s.wall_s_min:.2f}-{s.wall_s_max:.2f}"
        trees = f"{m.extra['trees']} ({m.extra['best_iteration']})"
        print(
            f"{job:<8} {s.wall_s_median:>16.2f} {spread:>13} {s.cpu_s_median:>7.1f} "
            f"{s.peak_rss_mib_max:>9.0f} {m.extra['features']:>8} {trees:>13} "
            f"{m.extra['auc']:>9.4f} {s.wall_s_median / base.wall_s_median:>7.2f}"
        )
    overhead = results["forgeml"].wall_s_median / base.wall_s_median - 1.0
    verdict = "PASS" if overhead <= TARGET_OVERHEAD else "MISS"
    print(
        f"target   : forgeml train extra wall time <= {TARGET_OVERHEAD:.0%} of direct LightGBM: "
        f"{overhead:+.0%}  {verdict}"
    )


def print_breakdown(m: Measurement) -> None:
    print(f"\nforgeml train, where the time went (last run, {m.wall_s:.2f} s in all):")
    print(f"  reading its dataset version alone, outside train: {m.extra['read_s']:.2f} s")
    print("  progress messages, seconds since train() began:")
    for at, text in m.extra["events"]:
        print(f"    {at:7.2f}  {text}")
    method = m.extra["importance"]
    print(
        f"  permutation importance: {method['rows']:,} rows x {method['repeats']} repeat(s)"
        + (f" ({method['note']})" if method["note"] else "")
    )
    print("  steps (wrapped calls; calls in brackets):")
    accounted = 0.0
    for label, (seconds, calls) in m.extra["spans"].items():
        accounted += seconds
        print(f"    {label:<42} {seconds:7.2f} s  ({calls})")
    print(f"    {'everything else (run tracking, scoring, ...)':<42} {m.wall_s - accounted:7.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each job")
    parser.add_argument("--seed", type=int, default=20_261_121, help="data generator seed")
    parser.add_argument("--child", choices=JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        {"direct": child_direct, "forgeml": child_forgeml}[args.child](args.data)
        return 0
    if args.rows < WARMUP_ROWS or args.repeat < 1:
        parser.error(f"--rows must be at least {WARMUP_ROWS} and --repeat at least 1")

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    path = parquet_path(args.rows, args.seed)
    generated = not path.exists()
    if generated:
        print(f"generating {path.name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        generate_parquet(path, args.rows, args.seed)
        print(f"  done in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
    sample = warmup_parquet(path)
    for job in JOBS:  # fill the bytecode cache; not measured
        run_job(job, sample)

    print(
        "\n".join(
            machine_facts(
                installed_versions("forgeml", "lightgbm", "scikit-learn", "pyarrow", "numpy")
            )
        )
    )
    print(
        f"dataset  : {args.rows:,} rows x {N_NUMERIC + len(CATEGORIES) + 2} columns "
        f"({N_NUMERIC} float, {len(CATEGORIES)} category, 1 timestamp, boolean target), "
        f"{path.stat().st_size / 2**20:.1f} MiB Parquet ({'generated' if generated else 'cached'})"
    )
    print(f"repeats  : {args.repeat} per job, alternating order; wall = median, peak = max")
    print(f"load     : 1-minute load average {load_average()} before the first job")

    runs: dict[str, list[Measurement]] = {job: [] for job in JOBS}
    for i in range(args.repeat):
        order = JOBS if i % 2 == 0 else JOBS[::-1]
        for job in order:
            m = run_job(job, path)
            if m.extra.get("rows") != args.rows:
                raise SystemExit(f"{job} trained on {m.extra.get('rows')} rows, not {args.rows}")
            runs[job].append(m)
            print(
                f"  run {i + 1} {job:<8} {m.wall_s:7.2f}s  cpu {m.cpu_s:7.1f}s"
                f"  peak {m.peak_rss_mib:6.0f} MiB  trees {m.extra['trees']}"
                f"  AUC {m.extra['auc']:.4f}",
                file=sys.stderr,
                flush=True,
            )
    print(f"load     : 1-minute load average {load_average()} after the last job")
    print()
    print_table(
        {job: summarize(ms) for job, ms in runs.items()}, {j: r[-1] for j, r in runs.items()}
    )
    print(
        "direct   : numpy split (60/20/20, seeded), category codes, timestamp parts, "
        "LGBMClassifier(same settings).fit(early stopping 50) + predict_proba(test)"
    )
    print(
        "forgeml  : train(trials=1, register=True) into a fresh project (SQLite + local "
        "artifacts), Parquet read inside"
    )
    print_breakdown(runs["forgeml"][-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
