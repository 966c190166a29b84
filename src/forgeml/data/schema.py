"""Schema inference: the contract a dataset version (and later a model's input) keeps."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["infer_schema"]


def infer_schema(table: pa.Table, profile: dict[str, Any]) -> dict[str, Any]:
    """Column types, kinds, nullability, categories and ranges, from the table and profile.

    >>> from forgeml.data.normalize import normalize
    >>> from forgeml.data.profile import profile_table
    >>> t = normalize(pa.table({"plan": ["a", "b", "a"], "paid": [1.0, None, 3.0]}))
    >>> s = infer_schema(t, profile_table(t))
    >>> s["columns"][0]["kind"], s["columns"][0]["nullable"], s["columns"][0]["categories"]
    ('category', False, ['a', 'b'])
    >>> s["columns"][1]["nullable"], s["columns"][1]["min"], s["columns"][1]["max"]
    (True, 1.0, 3.0)
    """
    columns = []
    for name in table.column_names:
        stats = profile["columns"][name]
        entry: dict[str, Any] = {
            "name": name,
            "type": stats["type"],
            "kind": stats["kind"],
            "nullable": stats["nulls"] > 0,
        }
        if stats["kind"] == "category":
            entry["categories"] = sorted(value for value, _count in stats["top"])
        if stats["kind"] in ("integer", "float", "timestamp"):
            entry["min"], entry["max"] = stats.get("min"), stats.get("max")
        columns.append(entry)
    return {
        "columns": columns,
        "timestamp_columns": [c["name"] for c in columns if c["kind"] == "timestamp"],
    }
