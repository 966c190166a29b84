"""Feature views over a SQL query, and DuckDB's memory limit as the user sets it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forgeml.data import ingest
from forgeml.errors import ConfigError
from forgeml.featurestore import Entity, FeatureRegistry, FeatureView, get_historical_features
from forgeml.featurestore.offline import connect
from forgeml.project import Project

TX = pd.DataFrame(
    {
        "customer_id": [1, 1, 2, 1, 2],
        "ts": pd.to_datetime(
            ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-05", "2024-01-06"]
        ),
        "amount": [10.0, -3.0, 7.0, 40.0, 1.0],
        "country": ["fr", "fr", "de", "fr", "de"],
    }
)
ROWS = pd.DataFrame(
    {
        "customer_id": [1, 1, 2, 2],
        "at": pd.to_datetime(["2024-01-03", "2024-01-06", "2024-01-03", "2024-01-07"]),
    }
)


def _refunds_view() -> FeatureView:
    # only purchases count, and the amount is given in cents: the query does the shaping
    return FeatureView(
        "purchases",
        entity="customer",
        query="SELECT customer_id, ts, amount * 100 AS cents FROM tx WHERE amount > 0",
        timestamp="ts",
        features=["cents"],
    )


def _registry(view: FeatureView) -> FeatureRegistry:
    return FeatureRegistry([Entity("customer", ["customer_id"])], [view])


def test_a_query_view_joins_point_in_time_over_its_own_rows() -> None:
    got = get_historical_features(
        ROWS,
        "purchases:cents",
        registry=_registry(_refunds_view()),
        tables={"tx": TX},
        timestamp="at",
    )
    # customer 1 on the 3rd: the refund of the 2nd is filtered out, so the purchase of the 1st
    assert got["cents"].tolist() == [1000.0, 4000.0, 700.0, 100.0]
    assert got.attrs["feature_views"]["query:purchases"] == _refunds_view().query


def test_a_query_view_reads_the_projects_datasets_by_name(tmp_path: Path) -> None:
    project = Project.init(tmp_path / "shop")
    try:
        TX.to_parquet(tmp_path / "tx.parquet")
        ingest(str(tmp_path / "tx.parquet"), name="tx", project=project)
        got = get_historical_features(
            ROWS,
            "purchases:cents",
            registry=_registry(_refunds_view()),
            project=project,
            timestamp="at",
        )
    finally:
        project.close()
    assert got["cents"].tolist() == [1000.0, 4000.0, 700.0, 100.0]


def test_a_query_naming_an_unknown_table_fails_clearly() -> None:
    view = FeatureView(
        "purchases",
        entity="customer",
        query="SELECT customer_id, ts, amount AS cents FROM transactions",
        timestamp="ts",
        features=["cents"],
    )
    with pytest.raises(ConfigError, match="feature view 'purchases': its query failed") as e:
        get_historical_features(
            ROWS, "purchases:cents", registry=_registry(view), tables={"tx": TX}, timestamp="at"
        )
    assert "transactions" in str(e.value) and "tables by name: tx" in str(e.value.fix)


def test_the_memory_limit_reaches_duckdb() -> None:
    con = connect("300MB", threads=1)
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    finally:
        con.close()
    assert limit == ("286.1 MiB",)  # 300 MB, as DuckDB prints it in MiB
    got = get_historical_features(
        ROWS,
        "purchases:cents",
        registry=_registry(_refunds_view()),
        tables={"tx": TX},
        timestamp="at",
        memory_limit="300MB",
    )
    assert got["cents"].tolist() == [1000.0, 4000.0, 700.0, 100.0]


@pytest.mark.parametrize("size", ["500MB'; DROP TABLE x; --", "", "lots"])
def test_a_bad_memory_limit_names_the_value_and_the_fix(size: str) -> None:
    with pytest.raises(ConfigError) as raised:
        connect(size or " ")
    assert "500MB or 4GB" in str(raised.value.fix)
