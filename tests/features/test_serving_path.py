"""The per-request path loads a saved pipeline and answers without importing pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

import forgeml.features
from forgeml.features import FeaturePipeline

SERVE = """
import json, sys
from forgeml.features import FeaturePipeline
assert "pandas" not in sys.modules, "importing forgeml.features loaded pandas"
saved, records = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
pipeline = FeaturePipeline.from_dict(saved)
rows = pipeline.transform_records(records)
pipeline.unknown_categories({c: [r[c] for r in records] for c in ("plan", "city")})
assert "pandas" not in sys.modules, "serving a record loaded pandas"
json.dump(rows.tolist(), sys.stdout)
"""


def test_one_record_is_served_without_pandas(
    tmp_path: Path,
    train: pa.Table,
    fresh: pa.Table,
    schema: dict[str, Any],
    options: dict[str, Any],
) -> None:
    pipeline = FeaturePipeline.fit(train, schema, strategy="linear", **options)
    record = {
        k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in fresh.to_pylist()[0].items()
    }
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline.to_dict()))
    (tmp_path / "records.json").write_text(json.dumps([record]))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE,
            str(tmp_path / "pipeline.json"),
            str(tmp_path / "records.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == pipeline.transform(fresh.slice(0, 1)).tolist()


def test_public_names() -> None:
    assert forgeml.features.__all__ == ["FeaturePipeline", "Strategy"]
    for name in forgeml.features.__all__:
        assert getattr(forgeml.features, name) is not None
