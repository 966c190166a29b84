"""Generate the fraud example's data: card payments and the chargebacks reported later.

Usage: python generate.py [OUT_DIR] [--days 30] [--seed 0]
Writes transactions.parquet and chargebacks.parquet, ending at the current hour (UTC), so
that features materialized now are fresh. Fraud comes in bursts of payments at a few risky
merchants; its chargebacks are reported 2 to 10 days later.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def generate(
    days: int = 30, seed: int = 0, customers: int = 300, merchants: int = 40
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    end = pd.Timestamp.now(tz="UTC").floor("h").tz_localize(None)
    start = end - pd.Timedelta(days=days)
    risky = set(rng.choice(merchants, size=max(1, merchants // 8), replace=False).tolist())
    habit = rng.gamma(3.0, 15.0, customers)  # each customer's usual amount
    n = customers * days // 2
    customer = rng.integers(0, customers, n)
    merchant = rng.integers(0, merchants, n)
    seconds = rng.integers(0, days * 86400, n)
    amount = rng.gamma(4.0, habit[customer] / 4.0)
    fraud = np.zeros(n, dtype=bool)
    # bursts: a stolen card makes several large payments at risky merchants within an hour
    bursts = rng.choice(n, size=n // 60, replace=False)
    extra_rows = []
    for i in bursts:
        shop = int(rng.choice(sorted(risky)))
        for k in range(int(rng.integers(2, 5))):
            extra_rows.append(
                (customer[i], shop, seconds[i] + 60 * 7 * k, habit[customer[i]] * rng.uniform(3, 8))
            )
    extra = np.array(extra_rows, dtype=float).reshape(-1, 4)
    frame = pd.DataFrame(
        {
            "customer_id": np.concatenate([customer, extra[:, 0].astype(int)]),
            "merchant_id": np.concatenate([merchant, extra[:, 1].astype(int)]),
            "seconds": np.concatenate([seconds, extra[:, 2].astype(int)]),
            "amount": np.concatenate([amount, extra[:, 3]]).round(2),
            "is_fraud": np.concatenate([fraud, np.ones(len(extra), dtype=bool)]),
        }
    )
    frame = frame[frame["seconds"] < days * 86400].sort_values("seconds", kind="stable")
    frame["ts"] = start + pd.to_timedelta(frame["seconds"], unit="s")
    frame["scored_at"] = frame["ts"] - pd.Timedelta(seconds=1)  # just before it is recorded
    frame["merchant_id"] = "m" + frame["merchant_id"].astype(str)
    frame.insert(0, "transaction_id", np.arange(len(frame)))
    frame = frame.drop(columns="seconds").reset_index(drop=True)
    frame["is_fraud"] = frame["is_fraud"].astype(int)
    frauds = frame[frame["is_fraud"] == 1]
    delays = pd.to_timedelta(rng.integers(2 * 86400, 10 * 86400, len(frauds)), unit="s")
    chargebacks = pd.DataFrame(
        {
            "merchant_id": frauds["merchant_id"].to_numpy(),
            "amount": frauds["amount"].to_numpy(),
            "reported_at": (frauds["ts"] + delays).to_numpy(),
        }
    )
    chargebacks = chargebacks[chargebacks["reported_at"] <= end].reset_index(drop=True)
    return frame, chargebacks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=".", type=Path)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    transactions, chargebacks = generate(days=args.days, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    transactions.to_parquet(args.out / "transactions.parquet", index=False)
    chargebacks.to_parquet(args.out / "chargebacks.parquet", index=False)
    print(f"{len(transactions):,} transactions, {len(chargebacks):,} chargebacks in {args.out}")


if __name__ == "__main__":
    main()
