"""Benchmark: model quality of forgeml's default search vs. FLAML's AutoML, same time budget.

Claim: on public real tables that pip packages ship inside themselves (scikit-learn's
breast cancer, wine, diabetes and digits; statsmodels' ``fair`` and ``randhie``;
vega_datasets' local ``seattle_weather`` and ``seattle_temps``; nothing is downloaded)
and a generated table, ``forgeml.train`` with its defaults (the spec sets only the target,
the task, the metric and ``budget: {time: ...}``) scores at least as well as FLAML's
``AutoML.fit`` (its defaults; the same time budget and metric):

* the mean over tables of forgeml's gain is at least 0, where the gain is forgeml's score
  minus FLAML's for ROC AUC and accuracy, and the fraction by which forgeml's RMSE is
  below FLAML's, ``(FLAML - forgeml) / FLAML``, for regression;
* on no single table is forgeml's ROC AUC more than 0.005 below FLAML's, or its RMSE more
  than 2% above (accuracy tables count in the mean only);
* forgeml's whole ``train`` call (search, refit, calibration, evaluation, importance,
  monitoring reference, registration) takes at most 1.1x the budget.

Both systems get the same rows: the script holds out a fixed, seeded 20% test set
(stratified for classification) and gives each system only the other 80%. What each does
with those rows (its own validation rows, cross-validation, refitting) is its own
business. Afterwards the script scores both models on the same held-out rows with the same
metric, computed here with scikit-learn, and the same metric is the one both optimise:

* binary (breast cancer, fair, the generated table): ROC AUC of the positive-class
  probability;
* multiclass (wine, digits, seattle_weather): accuracy of the most probable class;
* regression (diabetes, randhie, seattle_temps): RMSE.

The tables of statsmodels and vega_datasets need those packages in this environment (the
``bench`` extra: ``uv pip install statsmodels vega-datasets``); the children read the
tables from Parquet files the parent writes, so FLAML's environment does not need them.

Each system runs in its own fresh child process (see ``_measure.py``): forgeml in this
environment, FLAML in its own virtual environment, created on first use at
``benchmarks/.venvs/flaml`` (``uv venv`` + ``uv pip install "flaml[automl]==VERSION"
pyarrow``; ``python -m venv`` + pip where uv is missing). Reading the data is not timed.
The wall time printed is the training call alone: FLAML's ``AutoML.fit(...,
time_budget=B)`` (search, then its refit of the best configuration), and forgeml's
``train(project=..., time_budget="Bs")`` end to end (search, refit, calibration,
evaluation on its own test rows, importance, registration) into a fresh project, with the
search's own share beside it. Test-row predictions come afterwards: FLAML's
``predict_proba``/``predict``, and forgeml's registered model loaded back
(``load_model``) and scored through ``Predictor``. An unmeasured run of each side on one
small dataset with a 3-second budget fills the bytecode cache first. Neither system is
cut off at its budget: each wall time is printed, and its worst ratio to the budget.

    .venv/bin/python benchmarks/train_quality.py            # 30 s per small set, 120 s big
    .venv/bin/python benchmarks/train_quality.py --budget 10 --big-budget 30 --rows 100000
    .venv/bin/python benchmarks/train_quality.py --datasets breast_cancer wine --budget 10

The generated table (20 float columns with 2% missing, 4 string categories, a 0/1 target
with about 20% positives from a non-linear logistic model) is written deterministically
(seeded numpy) as Parquet to ``benchmarks/.data/`` and reused by later runs with the same
parameters.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import (
    DATA_DIR,
    ISOLATING_ENV,
    PYCACHE_DIR,
    Measurement,
    anchor_python,
    installed_versions,
    load_average,
    machine_facts,
    ready,
    report,
    run_child,
    venv_versions,
)

HERE = Path(__file__).resolve().parent
FLAML_VENV = HERE / ".venvs" / "flaml"
FLAML_VERSION = "2.7.0"
FLAML_PACKAGES = (f"flaml[automl]=={FLAML_VERSION}", "pyarrow")  # pyarrow: to read Parquet
TEST_SIZE = 0.2
SEED = 0  # the hold-out split, forgeml's train.seed (its default) and FLAML's seed
TARGET = "target"
JOBS = ("flaml", "forgeml")
OPT_IN = ("mlp", "extra_trees")  # candidates forgeml runs only when they are listed
WARMUP_DATASET = "wine"
WARMUP_BUDGET = 3.0
GENERATOR_VERSION = 1  # bump when the generated data changes
N_NUMERIC = 20
CATEGORIES = {"plan": 4, "region": 12, "device": 30, "merchant": 300}
POSITIVE_RATE = 0.2
MISSING = 0.02
# dataset -> (task, metric); the metric has the same name in forgeml and in FLAML
DATASETS = {
    "breast_cancer": ("binary", "roc_auc"),
    "wine": ("multiclass", "accuracy"),
    "diabetes": ("regression", "rmse"),
    "digits": ("multiclass", "accuracy"),
    "fair": ("binary", "roc_auc"),
    "randhie": ("regression", "rmse"),
    "seattle_weather": ("multiclass", "accuracy"),
    "seattle_temps": ("regression", "rmse"),
    "generated": ("binary", "roc_auc"),
}
SKLEARN_SETS = ("breast_cancer", "wine", "diabetes", "digits")
# Per-table bounds: forgeml's ROC AUC at most this far below FLAML's, its RMSE at most this
# many times FLAML's; accuracy tables count in the mean only.
AUC_MARGIN = 0.005
RMSE_RATIO = 1.02
SPEC = """\
project: bench-quality
train:
  target: {target}
  task: {task}
  metric: {metric}
  budget: {{time: {budget}}}
"""


# -- data -----------------------------------------------------------------------------------


def generated_path(rows: int, seed: int) -> Path:
    return DATA_DIR / f"quality_{rows}rows_seed{seed}_v{GENERATOR_VERSION}.parquet"


def generate_parquet(path: Path, rows: int, seed: int) -> None:
    """20 float columns (2% missing), 4 string categories, a 0/1 target (~20% ones).

    The log-odds mix smooth and abrupt effects (sine, thresholds, an absolute value, a
    square, a log of a skewed column), two interactions between numeric columns, one rule
    on two bounded columns, additive category effects (one with 300 levels) and a
    category-dependent slope; 7 of the 20 numeric columns carry no signal. Values go
    missing after the target is drawn, so a missing value hides signal.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, N_NUMERIC))
    x[:, 10:14] = rng.random((rows, 4))  # bounded in [0, 1)
    x[:, 14:18] = np.exp(0.75 * x[:, 14:18])  # skewed, like amounts
    codes = {name: rng.integers(0, k, rows) for name, k in CATEGORIES.items()}
    effects = {name: rng.normal(0.0, 0.6, k) for name, k in CATEGORIES.items()}
    slopes = rng.normal(0.0, 0.8, CATEGORIES["device"])
    logit = (
        0.8 * x[:, 0]
        + 1.2 * np.sin(1.5 * x[:, 1])
        + 0.9 * (x[:, 2] > 0.5)
        - 0.7 * np.abs(x[:, 3])
        + 0.6 * x[:, 4] * x[:, 5]
        + 0.4 * x[:, 6] ** 2
        - 0.5 * x[:, 7] * (x[:, 8] > 0)
        + 1.0 * ((x[:, 10] > 0.7) & (x[:, 11] < 0.3))
        + 0.8 * x[:, 12]
        + 0.8 * np.log(x[:, 14])
        - 0.3 * np.minimum(x[:, 15], 3.0)
        + slopes[codes["device"]] * x[:, 9]
    )
    for name in CATEGORIES:
        logit += effects[name][codes[name]]
    lo, hi = -20.0, 20.0  # intercept chosen so that the positive rate is POSITIVE_RATE
    for _ in range(60):
        mid = (lo + hi) / 2
        rate = np.mean(1 / (1 + np.exp(-(logit + mid))))
        lo, hi = (mid, hi) if rate < POSITIVE_RATE else (lo, mid)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(logit + lo)))).astype(np.int64)
    x[rng.random((rows, N_NUMERIC)) < MISSING] = np.nan
    columns: dict[str, Any] = {f"num_{i:02d}": pa.array(x[:, i]) for i in range(N_NUMERIC)}
    for name, k in CATEGORIES.items():
        vocabulary = pa.array([f"{name}_{j:03d}" for j in range(k)])
        columns[name] = vocabulary.take(pa.array(codes[name]))
    columns[TARGET] = pa.array(y)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.part")
    pq.write_table(pa.table(columns), partial, compression="zstd")
    partial.replace(path)


def load_table(name: str, rows: int, seed: int) -> tuple[Any, str]:
    """The dataset as an Arrow table (features + TARGET) and where it came from."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if name == "generated":
        path = generated_path(rows, seed)
        origin = "cached"
        if not path.exists():
            print(f"generating {path.name} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            generate_parquet(path, rows, seed)
            print(f"  done in {time.perf_counter() - began:.1f}s", file=sys.stderr, flush=True)
            origin = "generated"
        return pq.read_table(path), f"{path.name}, {origin}"
    if name not in SKLEARN_SETS:
        return packaged_table(name)
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    names = [re.sub(r"[^0-9A-Za-z]+", "_", str(n)).strip("_") for n in bunch.feature_names]
    columns = {n: pa.array(bunch.data[:, i]) for i, n in enumerate(names)}
    task = DATASETS[name][0]
    target = bunch.target.astype("int64" if task != "regression" else "float64")
    columns[TARGET] = pa.array(target)
    return pa.table(columns), f"sklearn.datasets.load_{name}"


def packaged_table(name: str) -> tuple[Any, str]:
    """A public table shipped inside a pip package (no download), features + TARGET.

    * ``fair``: statsmodels' extramarital affairs survey (6,366 rows): whether the
      respondent had any affair (``affairs > 0``) from marriage rating, age, years
      married, children, religiousness, education and occupations.
    * ``randhie``: statsmodels' RAND health insurance experiment (20,190 rows): the number
      of outpatient visits (``mdvis``) from insurance and health variables.
    * ``seattle_weather``: vega_datasets' local Seattle weather (1,461 days): the day's
      weather (drizzle, fog, rain, snow, sun) from precipitation, temperatures, wind,
      month and day of the year.
    * ``seattle_temps``: vega_datasets' local hourly Seattle temperatures for 2010 (8,759
      rows): the temperature from month, day, day of the year, weekday and hour.
    """
    import numpy as np
    import pyarrow as pa

    if name in ("fair", "randhie"):
        import statsmodels.api as sm

        frame = getattr(sm.datasets, name).load_pandas().data
        if name == "fair":
            target = (frame.pop("affairs").to_numpy() > 0).astype("int64")
        else:
            target = frame.pop("mdvis").to_numpy(dtype="float64")
        origin = f"statsmodels.datasets.{name}"
    else:
        from vega_datasets import local_data

        frame = getattr(local_data, name)()
        dates = frame.pop("date").dt
        frame["month"], frame["day_of_year"] = dates.month, dates.day_of_year
        if name == "seattle_weather":
            weather = frame.pop("weather").astype(str).to_numpy()
            target = np.unique(weather, return_inverse=True)[1].astype("int64")
        else:
            frame["day"], frame["weekday"], frame["hour"] = dates.day, dates.day_of_week, dates.hour
            target = frame.pop("temp").to_numpy(dtype="float64")
        origin = f"vega_datasets.local_data.{name}"
    columns = {str(c): pa.array(frame[c].to_numpy(dtype="float64")) for c in frame.columns}
    columns[TARGET] = pa.array(target)
    return pa.table(columns), origin


def split_rows(table: Any, task: str) -> tuple[Any, Any]:
    """The training and test parts: a seeded 20% hold-out, stratified for classification."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    y = table.column(TARGET).to_numpy()
    train, test = train_test_split(
        np.arange(table.num_rows),
        test_size=TEST_SIZE,
        random_state=SEED,
        stratify=y if task != "regression" else None,
    )
    return table.take(np.sort(train)), table.take(np.sort(test))


def score(task: str, y: Any, predicted: Any) -> float:
    """The benchmark's metric for ``task``, higher is better (see the module docstring)."""
    import numpy as np
    from sklearn.metrics import accuracy_score, roc_auc_score

    if task == "binary":
        return float(roc_auc_score(y, predicted))
    if task == "multiclass":
        return float(accuracy_score(y, np.asarray(predicted).argmax(axis=1)))
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(predicted)) ** 2)))


def gain(metric: str, flaml: float, forgeml: float) -> float:
    """forgeml's advantage, higher is better: the difference of AUC or accuracy, and for
    RMSE the fraction of FLAML's error that forgeml's is smaller by."""
    if metric == "rmse":
        return (flaml - forgeml) / flaml
    return forgeml - flaml


def within_bound(metric: str, flaml: float, forgeml: float) -> bool | None:
    """Whether one table meets its bound (None: accuracy tables have none)."""
    if metric == "roc_auc":
        return forgeml >= flaml - AUC_MARGIN
    if metric == "rmse":
        return forgeml <= RMSE_RATIO * flaml
    return None


# -- child jobs ------------------------------------------------------------------------------


def child_flaml(work: Path, task: str, metric: str, budget: float) -> None:
    import numpy as np
    import pandas as pd
    from flaml import AutoML

    def features(frame: pd.DataFrame, categories: dict[str, list[Any]]) -> pd.DataFrame:
        out = frame.drop(columns=[TARGET])
        for name, levels in categories.items():  # strings become pandas categories
            out[name] = pd.Categorical(out[name], categories=levels)
        return out

    train = pd.read_parquet(work / "train.parquet")
    test = pd.read_parquet(work / "test.parquet")
    strings = [
        c
        for c in train.columns
        if c != TARGET and not pd.api.types.is_numeric_dtype(train[c].dtype)
    ]
    categories = {c: sorted(train[c].dropna().unique()) for c in strings}
    x, y = features(train, categories), train[TARGET]
    x_test = features(test, categories)
    log = work / "flaml.log"
    automl = AutoML()
    start = ready()
    automl.fit(
        x,
        y,
        task="regression" if task == "regression" else "classification",
        metric=metric,
        time_budget=budget,
        seed=SEED,
        verbose=0,
        log_file_name=str(log),
        log_type="all",
    )
    wall = time.perf_counter() - start
    if task == "regression":
        predicted = np.asarray(automl.predict(x_test), dtype=np.float64)
    else:
        proba = np.asarray(automl.predict_proba(x_test), dtype=np.float64)
        order = np.argsort(np.asarray(automl.classes_))  # columns in class order 0..k-1
        proba = proba[:, order]
        predicted = proba[:, 1] if task == "binary" else proba
    np.save(work / "flaml.npy", predicted)
    trials = sum(1 for line in log.read_text().splitlines() if '"record_id"' in line)
    report(
        wall,
        rows=len(x),
        trials=trials,
        best=automl.best_estimator,
        best_config={k: _plain(v) for k, v in (automl.best_config or {}).items()},
        best_valid_loss=_plain(automl.best_loss),
        found_at_s=_plain(automl.time_to_find_best_model),
    )


def child_forgeml(
    work: Path, task: str, metric: str, budget: float, extra: list[str], job: str
) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    import forgeml
    from forgeml.config import TrainSpec
    from forgeml.registry import load_model
    from forgeml.training.metrics import HIGHER_IS_BETTER
    from forgeml.training.predict import Predictor
    from forgeml.training.trainer import train

    seconds = f"{budget:g}s"
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as folder:
        spec = SPEC.format(target=TARGET, task=task, metric=metric, budget=seconds)
        if extra:  # the default candidates and the opt-in ones asked for
            spec += f"  candidates: [{', '.join([*TrainSpec().candidates, *extra])}]\n"
        (Path(folder) / "forgeml.yaml").write_text(spec, encoding="utf-8")
        project = forgeml.init(folder)
        try:
            ref = forgeml.ingest(work / "train.parquet", name="bench", project=project).version.ref
            test = pq.read_table(work / "test.parquet").drop_columns([TARGET])
            events: list[tuple[float, str]] = []
            start = ready()

            def progress(text: str) -> None:
                events.append((time.perf_counter() - start, text))

            result = train(dataset_ref=ref, project=project, time_budget=seconds, progress=progress)
            wall = time.perf_counter() - start
            if result.model is not None:  # what is served: the registered version, reloaded
                _version, bundle = load_model(result.model.ref, project=project)
            else:
                bundle = result.bundle
            predictor = Predictor(bundle)
            scores = np.asarray(predictor.scores(test), dtype=np.float64)
            if task == "multiclass":  # columns in class order 0..k-1
                scores = scores[:, np.argsort(np.asarray(predictor.classes))]
            np.save(work / f"{job}.npy", scores)
            split = result.context["dataset"]["split"]
            higher = HIGHER_IS_BETTER[metric]

            def best_of(values: list[float | None]) -> float | None:
                found = [v for v in values if v is not None]
                return (max(found) if higher else min(found)) if found else None

            search_s = next((at for at, text in events if text.startswith("refitting")), None)
            report(
                wall,
                rows=result.context["dataset"]["rows"],
                trials=len(result.trials),
                states={
                    s: sum(t.state == s for t in result.trials)
                    for s in ("complete", "pruned", "stopped", "failed")
                },
                errors=sorted({t.error for t in result.trials if t.error}),
                by_candidate={
                    c: [
                        sum(t.candidate == c for t in result.trials),
                        best_of([t.score for t in result.trials if t.candidate == c]),
                        sum(t.seconds for t in result.trials if t.candidate == c),
                    ]
                    for c in dict.fromkeys(t.candidate for t in result.trials)
                },
                best=result.candidate,
                best_config={k: _plain(v) for k, v in result.params.items()},
                best_valid_score=result.context["search"]["best"]["score"],
                split=split,
                calibration=bundle.extras.get("calibration"),
                search_s=search_s,
                events=events,
            )
        finally:
            project.close()


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, for the JSON result line."""
    return value.item() if hasattr(value, "item") else value


# -- parent ----------------------------------------------------------------------------------


def flaml_python() -> Path:
    """The FLAML environment's interpreter, creating the environment if needed."""
    return anchor_python(FLAML_VENV, FLAML_PACKAGES, {"flaml": FLAML_VERSION})


@dataclass(frozen=True)
class Outcome:
    name: str
    task: str
    metric: str
    budget: float
    train_rows: int
    test_rows: int
    scores: dict[str, float]
    runs: dict[str, Measurement]


def run_job(job: str, python: Path, work: Path, task: str, metric: str, budget: float) -> Any:
    """One training job in a child process; ``forgeml+mlp`` is forgeml with ``mlp`` added."""
    kind, _, extra = job.partition("+")
    argv = [str(python), str(Path(__file__).resolve()), "--child", kind, "--dir", str(work)]
    argv += ["--task", task, "--metric", metric, "--budget", repr(budget), "--job", job]
    if extra:
        argv += ["--with", *extra.split("+")]
    m = run_child(
        argv,
        unset_env=ISOLATING_ENV,
        cwd=work,
        timeout_s=max(900.0, 20 * budget),
        pycache_dir=PYCACHE_DIR,
    )
    import numpy as np

    return m, np.load(work / f"{job}.npy")


def run_dataset(
    name: str, pythons: dict[str, Path], budget: float, rows: int, seed: int, order: tuple[str, ...]
) -> Outcome:
    import pyarrow.parquet as pq

    task, metric = DATASETS[name]
    table, origin = load_table(name, rows, seed)
    train, test = split_rows(table, task)
    y_test = test.column(TARGET).to_numpy()
    with tempfile.TemporaryDirectory(prefix=f"bench-quality-{name}-") as folder:
        work = Path(folder)
        pq.write_table(train, work / "train.parquet")
        pq.write_table(test, work / "test.parquet")
        runs: dict[str, Measurement] = {}
        scores: dict[str, float] = {}
        for job in order:
            m, predicted = run_job(job, pythons[job], work, task, metric, budget)
            if m.extra.get("rows") != train.num_rows:
                raise SystemExit(f"{job} trained on {m.extra.get('rows')} rows of {name}")
            if len(predicted) != test.num_rows:
                raise SystemExit(f"{job} predicted {len(predicted)} of {test.num_rows} test rows")
            runs[job], scores[job] = m, score(task, y_test, predicted)
            print(
                f"  {name:<13} {job:<8} {metric} {scores[job]:.4f}  wall {m.wall_s:6.1f}s"
                f"  cpu {m.cpu_s:6.1f}s  trials {m.extra['trials']}  best {m.extra['best']}"
                f"  ({origin})",
                file=sys.stderr,
                flush=True,
            )
    return Outcome(name, task, metric, budget, train.num_rows, test.num_rows, scores, runs)


def print_scores(outcomes: list[Outcome]) -> tuple[float, list[str]]:
    """The table of scores; the mean gain and the tables that miss their bound."""
    header = (
        f"{'dataset':<16} {'task':<11} {'train/test rows':>16} {'metric':<9} "
        f"{'FLAML':>9} {'forgeml':>9} {'gain':>8} {'bound':>5}"
    )
    print(header)
    print("-" * len(header))
    gains, missed = [], []
    for o in outcomes:
        flaml, forgeml = o.scores["flaml"], o.scores["forgeml"]
        gains.append(gain(o.metric, flaml, forgeml))
        ok = within_bound(o.metric, flaml, forgeml)
        if ok is False:
            missed.append(o.name)
        rows = f"{o.train_rows:,}/{o.test_rows:,}"
        print(
            f"{o.name:<16} {o.task:<11} {rows:>16} {o.metric:<9} "
            f"{flaml:>9.4f} {forgeml:>9.4f} {gains[-1]:>+8.4f} "
            f"{'-' if ok is None else 'ok' if ok else 'MISS':>5}"
        )
    mean = sum(gains) / len(gains)
    print(f"{'mean':<16} {'':<11} {'':>16} {'':<9} {'':>9} {'':>9} {mean:>+8.4f}")
    return mean, missed


def print_variant(outcomes: list[Outcome], variant: str) -> None:
    """forgeml with opt-in candidates beside its defaults and FLAML: where they help."""
    print(f"\n{variant} (defaults plus opt-in candidates) on the same rows and budget:")
    header = (
        f"{'dataset':<16} {'metric':<9} {'FLAML':>9} {'forgeml':>9} {variant:>14} "
        f"{'vs FLAML':>9} {'vs forgeml':>10} {'wall s':>7} {'best':<22}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        flaml, plain, extra = o.scores["flaml"], o.scores["forgeml"], o.scores[variant]
        m = o.runs[variant]
        print(
            f"{o.name:<16} {o.metric:<9} {flaml:>9.4f} {plain:>9.4f} {extra:>14.4f} "
            f"{gain(o.metric, flaml, extra):>+9.4f} {gain(o.metric, plain, extra):>+10.4f} "
            f"{m.wall_s:>7.1f} {m.extra['best']:<22}"
        )


def print_times(outcomes: list[Outcome]) -> None:
    header = (
        f"{'dataset':<14} {'budget s':>8} | {'FLAML s':>7} {'trials':>6} {'best':<14} | "
        f"{'forgeml s':>9} {'search s':>8} {'trials':>6} {'best':<22} {'calibration':<11}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        f, g = o.runs["flaml"], o.runs["forgeml"]
        search = g.extra.get("search_s")
        states = g.extra["states"]
        trials = f"{states['complete']}"
        if states["pruned"] or states["stopped"] or states["failed"]:
            trials += f"+{states['pruned']}p+{states['stopped']}s+{states['failed']}f"
        print(
            f"{o.name:<14} {o.budget:>8g} | {f.wall_s:>7.1f} {f.extra['trials']:>6} "
            f"{f.extra['best']:<14} | {g.wall_s:>9.1f} "
            f"{search if search is not None else float('nan'):>8.1f} {trials:>6} "
            f"{g.extra['best']:<22} {g.extra.get('calibration') or '-'}"
        )


def print_details(outcomes: list[Outcome]) -> None:
    print("\nsearch details (validation scores are each system's own, on its own rows):")
    for o in outcomes:
        f, g = o.runs["flaml"], o.runs["forgeml"]
        print(f"  {o.name}:")
        print(
            f"    FLAML   best {f.extra['best']} (valid loss {f.extra['best_valid_loss']:.4g}, "
            f"found at {f.extra['found_at_s']:.1f}s): {json.dumps(f.extra['best_config'])}"
        )
        split = g.extra["split"]
        print(
            f"    forgeml best {g.extra['best']} (valid {g.extra['best_valid_score']:.4g}): "
            f"{json.dumps(g.extra['best_config'])}; own split "
            f"{split['method']} train/valid/test {split['train']}/{split['valid']}/{split['test']}"
        )
        for cand, (count, best, seconds) in g.extra["by_candidate"].items():
            shown = f"{best:.4f}" if best is not None else "-"
            print(f"      {cand:<24} {count:>3} trials  {seconds:7.1f}s  best valid {shown}")
        steps = ", ".join(
            f"{at:.1f}s {text}" for at, text in g.extra["events"] if "trial" not in text
        )
        print(f"      progress: {steps}")
        for error in g.extra["errors"]:
            print(f"      failed: {error[:150]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--budget", type=float, default=30.0, help="seconds per bundled dataset (default 30)"
    )
    parser.add_argument(
        "--big-budget",
        type=float,
        default=120.0,
        help="seconds for the generated table (default 120)",
    )
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in the generated table (default 1M)"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=list(DATASETS),
        metavar="NAME",
        help=f"datasets to run (default all: {' '.join(DATASETS)})",
    )
    parser.add_argument("--seed", type=int, default=20_261_121, help="data generator seed")
    parser.add_argument("--child", choices=JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--metric", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument(
        "--with",
        dest="extra",
        nargs="+",
        default=[],
        choices=OPT_IN,
        metavar="CANDIDATE",
        help="also run forgeml with these opt-in candidates added to its defaults "
        f"({', '.join(OPT_IN)}), shown beside; the targets stay on the defaults",
    )
    args = parser.parse_args(argv)

    if args.child == "flaml":
        child_flaml(args.dir, args.task, args.metric, args.budget)
        return 0
    if args.child:
        child_forgeml(args.dir, args.task, args.metric, args.budget, args.extra, args.job)
        return 0
    variant = f"forgeml+{'+'.join(args.extra)}" if args.extra else None
    jobs = (*JOBS, variant) if variant else JOBS
    if min(args.budget, args.big_budget) <= 0 or args.rows < 1000:
        parser.error("the budgets must be positive and --rows at least 1000")

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    pythons = {"flaml": flaml_python(), "forgeml": Path(sys.executable)}
    if variant:
        pythons[variant] = Path(sys.executable)
    flaml_packages = ("flaml", "lightgbm", "xgboost", "scikit-learn", "pandas")
    versions = venv_versions(pythons["flaml"], *flaml_packages) or ""
    packages = (
        f"{installed_versions('forgeml', 'lightgbm', 'xgboost-cpu', 'scikit-learn', 'optuna')}; "
        + ", ".join(f"{p} {v}" for p, v in zip(flaml_packages, versions.split(", "), strict=False))
        + f" (in {FLAML_VENV.relative_to(HERE.parent)})"
    )
    print("\n".join(machine_facts(packages)))
    print(
        f"budgets  : {args.budget:g} s per bundled dataset, {args.big_budget:g} s for the "
        f"generated table ({args.rows:,} rows); hold-out {TEST_SIZE:.0%} (seed {SEED}, "
        "stratified for classification)"
    )
    print(f"load     : 1-minute load average {load_average()} before the first job")

    with tempfile.TemporaryDirectory(prefix="bench-quality-warmup-") as folder:
        import pyarrow.parquet as pq

        work = Path(folder)  # fills the bytecode cache; not measured
        task, metric = DATASETS[WARMUP_DATASET]
        train, test = split_rows(load_table(WARMUP_DATASET, 0, 0)[0], task)
        pq.write_table(train, work / "train.parquet")
        pq.write_table(test, work / "test.parquet")
        for job in jobs:
            run_job(job, pythons[job], work, task, metric, WARMUP_BUDGET)

    outcomes = []
    for i, name in enumerate(args.datasets):
        budget = args.big_budget if name == "generated" else args.budget
        order = jobs if i % 2 == 0 else jobs[::-1]
        outcomes.append(run_dataset(name, pythons, budget, args.rows, args.seed, order))
    print(f"load     : 1-minute load average {load_average()} after the last job")
    print()
    mean, missed = print_scores(outcomes)
    print(
        f"target   : forgeml equal or better on the mean gain (>= 0): {mean:+.4f}  "
        + ("PASS" if mean >= 0 else "MISS")
    )
    print(
        f"target   : no table worse than FLAML by more than {AUC_MARGIN} AUC or "
        f"{RMSE_RATIO - 1:.0%} RMSE: " + (f"MISS ({', '.join(missed)})" if missed else "PASS")
    )
    for job, label in (("flaml", "FLAML"), ("forgeml", "forgeml")):
        ratio, worst = max((o.runs[job].wall_s / o.budget, o.name) for o in outcomes)
        verdict = "" if job == "flaml" else "  PASS" if ratio <= 1.1 else "  MISS"
        print(
            f"budget   : {label} wall time / budget, worst dataset: {ratio:.2f}x ({worst})"
            + (f" (target <= 1.1x){verdict}" if verdict else "")
        )
    print(
        "metrics  : computed here on the same held-out rows; ROC AUC (binary), accuracy "
        "(multiclass), RMSE (regression); each system optimised the same metric; gain: "
        "forgeml - FLAML for AUC and accuracy, (FLAML - forgeml) / FLAML for RMSE"
    )
    print()
    print_times(outcomes)
    print(
        "times    : wall seconds of the training call; forgeml's 'search s' is when its "
        "search ended (refit, evaluation, importance and registration follow)"
    )
    print_details(outcomes)
    if variant:
        print_variant(outcomes, variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
