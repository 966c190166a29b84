"""The generated data both sides read: feature views as Parquet files, entity rows, a spec.

Each view ``v{i}`` has columns ``entity_id``, ``ts``, ``created``, ``v{i}_a``, ``v{i}_b``;
timestamps are spread over ``days`` days, ``created`` is a little after ``ts`` (distinct per
row, so ties resolve the same way on both sides). Entity rows have ``row_id``, ``entity_id``
and ``event_timestamp`` (UTC).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01")
TTL_DAYS = 7


def generate(
    folder: Path,
    *,
    entity_rows: int,
    views: int,
    feature_rows: int,
    entities: int,
    days: int = 30,
    seed: int = 0,
) -> dict[str, object]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_view = feature_rows // views
    for i in range(views):
        seconds = rng.integers(0, days * 86400, per_view)
        frame = pd.DataFrame(
            {
                "entity_id": rng.integers(0, entities, per_view),
                "ts": START + pd.to_timedelta(seconds, unit="s"),
                f"v{i}_a": rng.normal(size=per_view),
                f"v{i}_b": rng.normal(size=per_view),
            }
        )
        frame["created"] = frame["ts"] + pd.to_timedelta(np.arange(per_view) % 997 + 1, unit="ms")
        frame["ts"] = frame["ts"].dt.tz_localize("UTC")
        frame["created"] = frame["created"].dt.tz_localize("UTC")
        frame.to_parquet(folder / f"v{i}.parquet", index=False)
    rows = pd.DataFrame(
        {
            "row_id": np.arange(entity_rows),
            "entity_id": rng.integers(0, entities, entity_rows),
            "event_timestamp": (
                START + pd.to_timedelta(rng.integers(0, days * 86400, entity_rows), unit="s")
            ).tz_localize("UTC"),
        }
    )
    rows.to_parquet(folder / "entity_rows.parquet", index=False)
    meta = {
        "views": views,
        "entity_rows": entity_rows,
        "feature_rows": per_view * views,
        "entities": entities,
        "days": days,
        "ttl_days": TTL_DAYS,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def generate_stream(folder: Path, *, entities: int, days: int = 60, every_min: int = 10) -> int:
    """One view of ``entities`` entities, a row every ``every_min`` minutes for ``days`` days,
    written in row groups so the writer itself stays small."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    steps = days * 24 * 60 // every_min
    rng = np.random.default_rng(1)
    path = folder / "stream.parquet"
    writer = None
    ids = np.arange(entities)
    per_group = max(1, 2_000_000 // entities)
    for first in range(0, steps, per_group):
        count = min(per_group, steps - first)
        step = np.repeat(np.arange(first, first + count), entities)
        table = pa.table(
            {
                "entity_id": np.tile(ids, count),
                "ts": pa.array(
                    (START + pd.to_timedelta(step * every_min, unit="m")).to_numpy(),
                    pa.timestamp("us"),
                ),
                "value": rng.normal(size=len(step)),
            }
        )
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return steps * entities
