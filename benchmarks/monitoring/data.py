"""The benchmark's data: one deterministic pool of rows, cached as Parquet.

20 columns: 15 numeric of varied shapes (normal, skewed, heavy-tailed, bounded,
discrete, bimodal) and 5 categorical (2 to 200 values, uniform and Zipf). A/A splits
draw a reference and a window from the pool; shifted windows add ``δ·σ`` to the five
continuous columns in ``SHIFTED`` (σ: the column's standard deviation in the pool).

The drift-report timing uses ``reference`` (the pool's first half) and ``current`` (its
second half, with ``TIMING_SHIFTS`` applied and one categorical column re-drawn with other
shares), each a Parquet file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261121
VERSION = 2
NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i:02d}" for i in range(5)]
SHIFTED = NUMERIC[:5]
TIMING_SHIFTS = {"n00": 0.25, "n01": 0.1, "n02": 0.05}  # in standard deviations
TIMING_CATEGORY = "c01"
_SIZES = (2, 5, 10, 50, 200)


def draw(
    rng: np.random.Generator, n: int, *, category_shift: bool = False
) -> dict[str, np.ndarray]:
    """``n`` rows of every column (categories as strings)."""
    columns = {
        "n00": rng.normal(0, 1, n),
        "n01": rng.lognormal(3, 0.8, n),
        "n02": rng.exponential(2, n),
        "n03": rng.uniform(-5, 5, n),
        "n04": rng.standard_t(5, n),
        "n05": rng.normal(100, 15, n),
        "n06": rng.gamma(2, 3, n),
        "n07": rng.beta(2, 5, n),
        "n08": rng.poisson(4, n).astype(np.float64),
        "n09": np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(2, 1, n)),
        "n10": rng.lognormal(10, 1.5, n),
        "n11": np.where(rng.random(n) < 0.6, 0.0, rng.exponential(10, n)),
        "n12": rng.normal(50, 5, n).round(),
        "n13": rng.weibull(1.5, n),
        "n14": rng.laplace(0, 2, n),
    }
    for name, size in zip(CATEGORICAL, _SIZES, strict=True):
        weights = 1 / np.arange(1, size + 1) if size > 10 else np.ones(size)
        if category_shift and name == TIMING_CATEGORY:
            weights = weights * np.linspace(0.5, 1.5, size)  # shares tilted towards the last
        labels = np.array([f"{name}_{k}" for k in range(size)])
        columns[name] = labels[rng.choice(size, n, p=weights / weights.sum())]
    return columns


def as_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """Numbers as float64, categories dictionary-encoded (as Parquet stores them)."""
    arrays = {
        name: pa.array(values).dictionary_encode() if name in CATEGORICAL else pa.array(values)
        for name, values in columns.items()
    }
    return pa.table(arrays)


def ensure(folder: Path, rows: int) -> dict[str, Path]:
    """The pool (``2 × rows``), reference and current files, generated once and cached."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"monitoring_{rows}rows_seed{SEED}_v{VERSION}"
    paths = {
        "pool": folder / f"{stem}_pool.parquet",
        "reference": folder / f"{stem}_reference.parquet",
        "current": folder / f"{stem}_current.parquet",
        "facts": folder / f"{stem}_facts.json",
    }
    if all(path.exists() for path in paths.values()):
        return paths
    rng = np.random.default_rng(SEED)
    pool = draw(rng, 2 * rows)
    sigma = {name: float(np.std(pool[name])) for name in NUMERIC}
    _write(as_table(pool), paths["pool"])
    _write(as_table({name: values[:rows] for name, values in pool.items()}), paths["reference"])
    current = {name: values[rows:].copy() for name, values in pool.items()}
    for name, shift in TIMING_SHIFTS.items():
        current[name] += shift * sigma[name]
    current[TIMING_CATEGORY] = draw(np.random.default_rng(SEED + 1), rows, category_shift=True)[
        TIMING_CATEGORY
    ]
    _write(as_table(current), paths["current"])
    paths["facts"].write_text(json.dumps({"rows": rows, "sigma": sigma}))
    return paths


def split_indices(pool_rows: int, size: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the reference and the window of A/A split ``split`` (disjoint)."""
    rng = np.random.default_rng([SEED, size, split])
    rows = rng.permutation(pool_rows)[: 2 * size] if 2 * size > pool_rows // 8 else None
    if rows is None:
        rows = rng.choice(pool_rows, 2 * size, replace=False)
    return np.sort(rows[:size]), np.sort(rows[size:])


def _write(table: pa.Table, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    pq.write_table(table, temporary, compression="snappy")
    temporary.rename(path)
