"""examples/digits runs end to end: trained in plain PyTorch, logged, gated, served with
tensor input (a wrong shape refused), and monitored (inverted images drift)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits" / "train.py"


def test_the_digits_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    src = str(Path(__file__).resolve().parents[2] / "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    spec = importlib.util.spec_from_file_location("digits_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    found = example.main(["--dir", str(tmp_path / "digits"), "--epochs", "2"])
    assert found["gate_accuracy"] > 0.6 and found["served_accuracy"] > 0.6
    assert found["refused"] == 422 and found["shifted"] == 100
    assert "input.mean" in found["drifted"]
