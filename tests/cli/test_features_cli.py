"""forgeml features: list, historical, materialize, get — through the real entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

Invoke = Callable[..., Any]  # the forgeml_cli fixture (tests/cli/conftest.py)

SPEC = """\
project: shop
entities:
  customer: {join_keys: [customer_id]}
feature_views:
  spend:
    entity: customer
    source: tx
    timestamp: ts
    ttl: 2d
    features: [amount, {name: amount_sum_7d, agg: sum, of: amount, window: 7d}]
on_demand_views:
  share:
    function: shop_rules:share
    inputs: {price: float, "spend:amount_sum_7d": float}
    features: {price_share: float}
feature_services:
  fraud: [spend:amount, spend:amount_sum_7d]
"""


def _project(tmp_path: Path, forgeml_cli: Invoke) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "forgeml.yaml").write_text(SPEC)
    pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 1],
            "amount": [10.0, 20.0, 5.0, 40.0],
            "ts": [
                "2024-01-01T00:00:00Z",
                "2024-01-03T00:00:00Z",
                "2024-01-02T00:00:00Z",
                "2024-01-09T00:00:00Z",
            ],
        }
    ).to_csv(root / "tx.csv", index=False)
    assert forgeml_cli("init", str(root)).code == 0
    done = forgeml_cli("--project", str(root), "ingest", str(root / "tx.csv"), "--name", "tx")
    assert done.code == 0, done.err
    return root


def test_historical_materialize_and_get(tmp_path: Path, forgeml_cli: Invoke) -> None:
    root = _project(tmp_path, forgeml_cli)
    listed = forgeml_cli("--project", str(root), "features", "--json")
    assert listed.code == 0 and listed.json()["feature_services"] == {  # type: ignore[index]
        "fraud": ["spend:amount", "spend:amount_sum_7d"]
    }
    assert listed.json()["on_demand_views"] == {  # type: ignore[index]
        "share": {
            "function": "shop_rules:share",
            "inputs": {"price": "float", "spend:amount_sum_7d": "float"},
            "features": {"price_share": "float"},
        }
    }
    table = forgeml_cli("--project", str(root), "features")
    assert "on demand" in table.out and "shop_rules:share" in table.out
    pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "when": ["2024-01-04", "2024-01-03", "2024-01-20"],
            "y": [0, 1, 0],
        }
    ).to_csv(root / "rows.csv", index=False)
    out = root / "train.parquet"
    done = forgeml_cli(
        "--project",
        str(root),
        "features",
        "historical",
        "--entities",
        str(root / "rows.csv"),
        "--service",
        "fraud",
        "--timestamp",
        "when",
        "--output",
        str(out),
    )
    assert done.code == 0, done.err
    assert "tx@1" in done.out
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["customer_id", "when", "y", "amount", "amount_sum_7d"]
    assert frame["amount"].tolist()[:2] == [20.0, 5.0]
    assert pd.isna(frame["amount"].iloc[2])  # eleven days later: past the 2-day TTL
    assert frame["amount_sum_7d"].tolist()[:2] == [30.0, 5.0]

    done = forgeml_cli(
        "--project", str(root), "features", "materialize", "--end", "2024-01-10", "--chunk", "2d"
    )
    assert done.code == 0, done.err
    assert "spend: 6 rows" in done.out  # 4 chunk-latest rows, 2 entities aggregated
    again = forgeml_cli("--project", str(root), "features", "materialize", "--end", "2024-01-10")
    assert "spend: up to date" in again.out
    got = forgeml_cli(
        "--project", str(root), "features", "get", "--service", "fraud", "--key", "customer_id=1"
    )
    assert got.code == 0, got.err
    # read now, long after the 2-day TTL: the plain value is stale, the 7-day sum is as of --end
    assert got.json() == {"amount": None, "amount_sum_7d": 40.0}


def test_bad_requests_say_what_to_fix(tmp_path: Path, forgeml_cli: Invoke) -> None:
    root = _project(tmp_path, forgeml_cli)
    out = str(root / "x.parquet")
    neither = forgeml_cli(
        "--project", str(root), "features", "historical", "--output", out, "--start", "2024-01-01"
    )
    assert neither.code != 0 and "--service or --features" in neither.err
    unknown = forgeml_cli(
        "--project",
        str(root),
        "features",
        "historical",
        "--output",
        out,
        "--service",
        "frau",
        "--start",
        "2024-01-01",
    )
    assert unknown.code != 0 and "no feature service named 'frau'" in unknown.err
    (root / "forgeml.yaml").write_text(SPEC.replace("entity: customer", "entity: custom"))
    broken = forgeml_cli("--project", str(root), "features")
    assert broken.code != 0 and "did you mean 'customer'" in broken.err
