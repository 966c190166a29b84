"""A table with every column kind, nulls, unicode categories, and its stored schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from forgeml.data.normalize import normalize
from forgeml.data.profile import profile_table
from forgeml.data.schema import infer_schema

PLANS = ["básico", "プロ", "free", "Zeta", "😀 fun", "team", "é"]
CITIES = ["Oslo", "Rome", "Zürich"]


def mixed_table(rows: int, seed: int, *, unseen: bool = False) -> pa.Table:
    """Every kind; ``unseen`` adds categories that a fit on another seed never saw."""
    rng = np.random.default_rng(seed)
    nulls = rng.random(rows) < 0.1
    age = rng.integers(18, 90, rows)
    income = rng.lognormal(10, 1, rows)
    income[rng.random(rows) < 0.05] = np.nan
    plans = np.array(PLANS + (["gold", "ünseen"] if unseen else []), dtype=object)
    plan = plans[rng.integers(0, len(plans), rows)]
    plan[rng.random(rows) < 0.1] = None
    city = np.array(CITIES + (["Lima"] if unseen else []), dtype=object)[
        rng.integers(0, len(CITIES) + unseen, rows)
    ]
    start = datetime(2023, 1, 1)
    signup = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 2 * 525_600, rows)]
    paid = rng.random(rows) < 0.6
    churned = (age < 35) ^ (rng.random(rows) < 0.1)
    return normalize(
        pa.table(
            {
                "customer_id": [f"c{seed}-{i}" for i in range(rows)],
                "age": pa.array(age, mask=nulls),
                "income": income,
                "paid": pa.array(paid, mask=rng.random(rows) < 0.1),
                "signup": pa.array(signup, pa.timestamp("us"), mask=rng.random(rows) < 0.1),
                "seen_at": pa.array(signup, pa.timestamp("us", tz="Europe/Oslo"), mask=nulls),
                "plan": plan.tolist(),
                "city": city.tolist(),
                "comment": [f"note {seed} {i}" for i in range(rows)],
                "nothing": pa.nulls(rows),
                "churned": churned,
            }
        )
    )


@pytest.fixture(scope="session")
def train() -> pa.Table:
    return mixed_table(400, 0)


@pytest.fixture(scope="session")
def fresh() -> pa.Table:
    return mixed_table(60, 1, unseen=True)


@pytest.fixture(scope="session")
def schema(train: pa.Table) -> dict[str, Any]:
    inferred = infer_schema(train, profile_table(train))
    for column in inferred["columns"]:
        if column["name"] == "city":
            # A schema from a larger sample may call a column text although the fit data
            # holds few values; the pipeline then encodes it as a category.
            column["kind"] = "text"
    return inferred


@pytest.fixture(scope="session")
def options() -> dict[str, Any]:
    """The fit options for the mixed table (a small max_categories makes an "other" code)."""
    return {"target": "churned", "exclude": ["customer_id"], "max_categories": 4}
