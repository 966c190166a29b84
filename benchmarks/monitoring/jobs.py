"""The measured jobs, each run in a fresh child process (see ``benchmarks/_measure.py``).

Evidently's jobs run in its own environment, so nothing here imports forgeml, pandas or
Evidently at module level.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from _measure import ready, report
from data import CATEGORICAL, NUMERIC, SHIFTED, split_indices

SPECS = [{"name": n, "kind": "float"} for n in NUMERIC] + [
    {"name": c, "kind": "category"} for c in CATEGORICAL
]


# -- one drift report on the reference and current files -------------------------------------


def timing_forgeml(reference_path: Path, current_path: Path) -> None:
    import pyarrow.dataset as pads

    from forgeml.monitor import compare, fit_reference, profile_window

    start = ready()
    reference = fit_reference(pads.dataset(reference_path), SPECS)
    fitted = time.perf_counter()
    window = profile_window(pads.dataset(current_path), reference)
    profiled = time.perf_counter()
    drift = compare(reference, window)
    wall = time.perf_counter() - start
    stages = {"fit_reference": fitted - start, "profile_window": profiled - fitted}
    stages["compare"] = wall - stages["fit_reference"] - stages["profile_window"]
    report(wall, drifted=list(drift.drifted_columns), dataset=drift.drifted, stages=stages)


def timing_evidently(reference_path: Path, current_path: Path) -> None:
    warnings.simplefilter("ignore")  # Evidently's own runtime warnings (scipy, plotly)
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    start = ready()
    reference = pd.read_parquet(reference_path)
    current = pd.read_parquet(current_path)
    snapshot = Report([DataDriftPreset()]).run(
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
        current_data=Dataset.from_pandas(current, data_definition=definition),
    )
    wall = time.perf_counter() - start
    drifted, share = evidently_drift(snapshot.dict())
    report(wall, drifted=drifted, dataset=share >= 0.5)


def evidently_drift(snapshot: dict[str, Any]) -> tuple[list[str], float]:
    """Drifted columns and their share, read from a DataDriftPreset snapshot."""
    drifted, share = [], 0.0
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif config["type"].endswith("ValueDrift"):
            pvalue = "p_value" in config["method"]
            value, threshold = float(metric["value"]), float(config["threshold"])
            if (value < threshold) if pvalue else (value >= threshold):
                drifted.append(config["column"])
    return drifted, share


# -- false alarms and detection over many splits of the pool ---------------------------------


def rates_forgeml(
    pool_path: Path,
    sizes: list[int],
    splits: list[int],
    shifts: list[float],
    sigma: dict[str, float],
) -> None:
    from forgeml.monitor import compare, fit_reference, profile_window

    pool = pq.read_table(pool_path)
    start = ready()
    results = {}
    for size, count in zip(sizes, splits, strict=True):
        tally = Tally(shifts)
        for split in range(count):
            ref_rows, cur_rows = split_indices(pool.num_rows, size, split)
            reference = fit_reference(pool.take(ref_rows), SPECS, seed=split)
            current = pool.take(cur_rows)
            for shift in [0.0, *shifts]:
                window = shifted_table(current, shift, sigma)
                drift = compare(reference, profile_window(window, reference))
                flags = {c.column: c.drifted for c in drift.columns}
                pvalues = {c.column: c.pvalue for c in drift.columns}
                tally.add(shift, flags, dataset=drift.drifted, pvalues=pvalues)
        results[str(size)] = tally.summary()
    report(time.perf_counter() - start, results=results)


def rates_evidently(
    pool_path: Path,
    sizes: list[int],
    splits: list[int],
    shifts: list[float],
    sigma: dict[str, float],
    check_rows: int,
) -> None:
    warnings.simplefilter("ignore")  # Evidently's own runtime warnings (scipy, plotly)
    import pandas as pd
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    pool = pd.read_parquet(pool_path)
    kinds = dict.fromkeys(NUMERIC, ColumnType.Numerical)
    kinds |= dict.fromkeys(CATEGORICAL, ColumnType.Categorical)

    def drifted(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, bool]:
        # What DataDriftPreset computes per column: its default test for the column's type
        # and sizes, at its default threshold, on the non-null values.
        flags = {}
        for name, kind in kinds.items():
            ref, cur = reference[name].dropna(), current[name].dropna()
            flags[name] = bool(get_stattest(ref, cur, kind, None)(ref, cur, kind, None).drifted)
        return flags

    start = ready()
    results, checks = {}, {}
    for size, count in zip(sizes, splits, strict=True):
        tally = Tally(shifts)
        for split in range(count):
            ref_rows, cur_rows = split_indices(len(pool), size, split)
            reference = pool.iloc[ref_rows].reset_index(drop=True)
            current = pool.iloc[cur_rows].reset_index(drop=True)
            for shift in [0.0, *shifts]:
                window = current.copy()
                if shift:
                    for name in SHIFTED:
                        window[name] = window[name] + shift * sigma[name]
                flags = drifted(reference, window)
                share = sum(flags.values()) / len(flags)
                tally.add(shift, flags, dataset=share >= 0.5)
                if split == 0 and size <= check_rows and shift in (0.0, max(shifts)):
                    checks[f"{size}@{shift}"] = _matches_report(reference, window, flags)
        results[str(size)] = tally.summary()
    report(time.perf_counter() - start, results=results, checks=checks)


def _matches_report(reference: Any, current: Any, flags: dict[str, bool]) -> bool:
    """Whether a full DataDriftPreset report flags the same columns as the direct tests."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
        current_data=Dataset.from_pandas(current, data_definition=definition),
    )
    drifted, _share = evidently_drift(snapshot.dict())
    return sorted(drifted) == sorted(name for name, flag in flags.items() if flag)


class Tally:
    """Counts of flagged columns and datasets per shift (0.0 = A/A)."""

    def __init__(self, shifts: list[float]) -> None:
        self.splits = dict.fromkeys([0.0, *shifts], 0)
        self.columns = dict.fromkeys([0.0, *shifts], 0)
        self.shifted = dict.fromkeys([0.0, *shifts], 0)
        self.datasets = dict.fromkeys([0.0, *shifts], 0)
        self.any = dict.fromkeys([0.0, *shifts], 0)
        # Raw per-column p-values (forgeml): every column under A/A, the shifted columns
        # under each shift; for detection at another tool's false-alarm rate.
        self.pvalues: dict[float, list[float]] = {s: [] for s in [0.0, *shifts]}

    def add(
        self,
        shift: float,
        flags: dict[str, bool],
        *,
        dataset: bool,
        pvalues: dict[str, float] | None = None,
    ) -> None:
        if pvalues is not None:
            names = pvalues if not shift else SHIFTED
            self.pvalues[shift].extend(pvalues[name] for name in names)
        self.splits[shift] += 1
        self.columns[shift] += sum(flags.values())
        self.shifted[shift] += sum(flags[name] for name in SHIFTED)
        self.datasets[shift] += dataset
        self.any[shift] += any(flags.values())

    def summary(self) -> dict[str, Any]:
        columns = len(NUMERIC) + len(CATEGORICAL)
        aa = self.splits[0.0]
        return {
            "splits": aa,
            "aa_column_rate": self.columns[0.0] / (aa * columns) if aa else None,
            "aa_dataset_rate": self.datasets[0.0] / aa if aa else None,
            "aa_any_column_rate": self.any[0.0] / aa if aa else None,
            "detection": {
                str(s): self.shifted[s] / (n * len(SHIFTED))
                for s, n in self.splits.items()
                if s and n
            },
            "pvalues": {str(s): values for s, values in self.pvalues.items() if values},
        }


def shifted_table(table: pa.Table, shift: float, sigma: dict[str, float]) -> pa.Table:
    """``table`` with ``shift`` standard deviations added to the columns in SHIFTED."""
    if not shift:
        return table
    for name in SHIFTED:
        position = table.schema.get_field_index(name)
        moved = pc.add(table.column(name), pa.scalar(shift * sigma[name]))
        table = table.set_column(position, name, moved)
    return table
