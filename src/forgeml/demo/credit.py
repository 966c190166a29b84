"""Synthetic credit applications with an economic shock part-way through the year.

Before the shock, default risk follows one relationship; from ``shock_month`` on, incomes
fall, card utilisation and unemployment rise, and utilisation weighs more on default
(a data shift and a concept shift at once).

>>> table = generate_credit(rows_per_month=200, months=12, seed=1)
>>> table.num_rows, table.column("customer_id")[0].as_py()
(2400, 'C0000001')
>>> before = generate_credit(rows_per_month=2000, months=6, seed=2)
>>> after = generate_credit(rows_per_month=2000, months=12, seed=2).slice(12000)
>>> import pyarrow.compute as pc
>>> def rate(t): return pc.mean(t["defaulted"].cast("int8")).as_py()
>>> rate(after) > rate(before)
True
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

__all__ = ["REGIONS", "generate_credit"]

REGIONS = ("north", "south", "east", "west")
EMPLOYMENT = ("salaried", "self_employed", "unemployed", "retired")
START = datetime(2025, 1, 1)


def generate_credit(
    *, rows_per_month: int = 2000, months: int = 12, shock_month: int = 7, seed: int = 0
) -> pa.Table:
    """``months`` months of applications; month numbers start at 1."""
    rng = np.random.default_rng(seed)
    n = rows_per_month * months
    month = np.repeat(np.arange(1, months + 1), rows_per_month)
    shocked = month >= shock_month
    day = rng.uniform(0, 30, n)
    dates = np.array(
        [START + timedelta(days=30 * (m - 1) + d) for m, d in zip(month, day, strict=True)],
        dtype="datetime64[us]",
    )

    region = rng.choice(len(REGIONS), n, p=[0.3, 0.25, 0.25, 0.2])
    p_employment = np.where(shocked[:, None], [0.55, 0.15, 0.18, 0.12], [0.65, 0.15, 0.07, 0.13])
    employment = (rng.random(n)[:, None] > np.cumsum(p_employment, axis=1)).sum(axis=1)
    age = np.clip(rng.normal(42, 12, n), 21, 80).round().astype(np.int64)

    income = rng.lognormal(np.log(52_000), 0.45, n)
    income *= np.where(shocked, np.where(region == 1, 0.72, 0.85), 1.0)  # the south is hit hardest
    income *= np.where(employment == 2, 0.35, 1.0)
    credit_limit = np.round(income * rng.uniform(0.15, 0.4, n), -2)
    utilisation = np.clip(rng.beta(2, 5, n) + np.where(shocked, 0.15, 0.0), 0, 1)
    late = rng.poisson(0.3 + 2.0 * utilisation**2)
    loan = np.round(rng.lognormal(np.log(12_000), 0.6, n), -1)
    term = rng.choice([12, 24, 36, 60], n, p=[0.2, 0.3, 0.35, 0.15])

    logit = (
        -3.2
        + np.where(shocked, 3.6, 2.2) * utilisation
        + 0.35 * late
        - 0.9 * np.log(income / 50_000)
        + 0.5 * (loan / income)
        + 0.6 * (employment == 2)
        - 0.01 * (age - 40)
        + np.where(shocked, 0.4, 0.0)
    )
    defaulted = rng.random(n) < 1 / (1 + np.exp(-logit))

    return pa.table(
        {
            "customer_id": [f"C{i:07d}" for i in range(1, n + 1)],
            "application_date": pa.array(dates, pa.timestamp("us")),
            "month": pa.array(month, pa.int64()),
            "region": pa.array(np.asarray(REGIONS)[region]),
            "employment": pa.array(np.asarray(EMPLOYMENT)[employment]),
            "age": pa.array(age),
            "income": pa.array(income.round(2)),
            "credit_limit": pa.array(credit_limit),
            "utilisation": pa.array(utilisation.round(4)),
            "late_payments_12m": pa.array(late.astype(np.int64)),
            "loan_amount": pa.array(loan),
            "term_months": pa.array(term.astype(np.int64)),
            "defaulted": pa.array(defaulted),
        }
    )
