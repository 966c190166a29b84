"""MLflow's own environment for tests: cached under benchmarks/.venvs, made with the
benchmarks' helper (uv, or venv + pip), at the versions of the model libraries here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "benchmarks"))
from _measure import anchor_python  # noqa: E402
from tracking_mlflow import MLFLOW_VERSION  # noqa: E402

VENV = ROOT / "benchmarks" / ".venvs" / "mlflow-models"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def mlflow_python() -> Path:
    wanted = {"mlflow": MLFLOW_VERSION}
    for package in ("lightgbm", "scikit-learn", "skops", "onnx", "onnxruntime"):
        wanted[package] = metadata.version(package)
    return anchor_python(VENV, [f"{k}=={v}" for k, v in wanted.items()], wanted)


def run_in_mlflow(script: str, *args: str) -> dict[str, object]:
    """Run ``script`` with MLflow's interpreter (forgeml from this source tree); its JSON."""
    env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [str(mlflow_python()), "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
