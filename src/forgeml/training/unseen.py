"""Rows a model never trained on, so that two models are compared on data neither has seen.

A row is known by its values: the columns both tables share, numbers compared as numbers.
Rows of a newer dataset version that repeat rows an older model learnt from are therefore
recognised, whichever dataset version they come from.

>>> import pyarrow as pa
>>> old = pa.table({"x": [1, 2, 3], "y": ["a", "b", "a"]})
>>> new = pa.table({"x": [2.0, 4.0], "y": ["b", "b"], "extra": [0, 0]})
>>> ~np.isin(row_keys(new, ["x", "y"]), row_keys(old, ["x", "y"]))
array([False,  True])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from forgeml.project import Project
from forgeml.registry import ModelVersion
from forgeml.training.version_rows import version_rows

__all__ = ["row_keys", "unseen_by"]


def unseen_by(rows: pa.Table, versions: Sequence[ModelVersion], project: Project) -> np.ndarray:
    """A mask over ``rows``: True where none of ``versions`` trained (or validated) on the row.

    Each version's training rows are rebuilt from its training run; a version not trained
    by forgeml raises :class:`~forgeml.errors.ForgemlError`, since its rows are unknown.
    """
    unseen = np.ones(rows.num_rows, dtype=bool)
    for version in versions:
        known = version_rows(version, project)
        columns = [c for c in rows.column_names if c in known.table.column_names]
        trained = row_keys(known.take(known.trained), columns)
        unseen &= ~np.isin(row_keys(rows, columns), trained)
    return unseen


def row_keys(table: pa.Table, columns: Sequence[str]) -> np.ndarray:
    """One 64-bit key per row from the values in ``columns`` (equal rows, equal keys)."""
    import pandas as pd

    frame = table.select(list(columns)).to_pandas()
    for name in frame.columns:
        kind = frame[name].dtype.kind
        if kind in "iuf":  # 3 and 3.0 are the same value in two dataset versions
            frame[name] = frame[name].astype("float64")
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()
