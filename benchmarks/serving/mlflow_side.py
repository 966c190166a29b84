"""MLflow's side: its own virtual environment, the booster saved as an MLflow model, the server.

The environment is ``benchmarks/.venvs/mlflow`` (the one ``tracking_mlflow.py`` uses, same
MLflow version), with LightGBM at the version forgeml's environment has, installed with
``uv`` (``python -m venv`` + pip where uv is missing). Run with that environment's python,
this file saves the model:

    benchmarks/.venvs/mlflow/bin/python mlflow_side.py --model model.txt \\
        --record record.json --signed DIR --unsigned DIR2

``mlflow.lightgbm.save_model`` stores the booster either bare (what ``log_model(booster)``
gives without an input example) or with a signature inferred from the payload record (30
double columns), so that MLflow checks each request against it, as forgeml does; the
check costs MLflow several milliseconds a request, so both are measured. Requests use
MLflow's documented format for a DataFrame in records orientation:
``{"dataframe_records": [record]}``, the same record forgeml receives bare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _measure import anchor_python, venv_versions

# no telemetry or other network traffic from MLflow
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def mlflow_python(venv: Path, mlflow_version: str, lightgbm_version: str) -> Path:
    """The MLflow environment's interpreter, with both packages at the wanted versions."""
    packages = [f"mlflow=={mlflow_version}", f"lightgbm=={lightgbm_version}"]
    return anchor_python(venv, packages, {"mlflow": mlflow_version, "lightgbm": lightgbm_version})


installed = venv_versions


def save(
    python: Path, model_file: Path, record: dict[str, float], *, signed: Path, unsigned: Path
) -> None:
    """Save the booster in ``model_file`` as two MLflow models, with and without a signature
    (one run of MLflow's interpreter: importing MLflow takes a while)."""
    record_file = signed.with_suffix(".record.json")
    record_file.write_text(json.dumps(record))
    argv = [str(python), str(Path(__file__).resolve()), "--model", str(model_file)]
    argv += ["--record", str(record_file), "--signed", str(signed), "--unsigned", str(unsigned)]
    done = subprocess.run(argv, env={**os.environ, **QUIET}, capture_output=True, text=True)
    if done.returncode != 0:  # its warnings are noise otherwise
        raise RuntimeError(f"saving the MLflow models failed:\n{done.stderr[-3000:]}")


def server_command(python: Path, folder: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """``mlflow models serve`` for the saved model, with its environment (MLflow's defaults)."""
    bin_dir = python.parent
    argv = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(folder)]
    argv += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    # it starts `uvicorn` from PATH: the one in its own environment
    env = {**os.environ, **QUIET, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return argv, env


def _save_main(model_file: Path, record_file: Path, signed: Path, unsigned: Path) -> None:
    import lightgbm
    import mlflow.lightgbm
    import pandas as pd
    from mlflow.models import infer_signature

    booster = lightgbm.Booster(model_file=str(model_file))
    example = pd.DataFrame([json.loads(record_file.read_text())])
    signature = infer_signature(example, booster.predict(example))
    mlflow.lightgbm.save_model(booster, str(signed), signature=signature)
    mlflow.lightgbm.save_model(booster, str(unsigned))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="save the booster as two MLflow models")
    parser.add_argument("--model", type=Path, required=True, help="LightGBM model text file")
    parser.add_argument("--record", type=Path, required=True, help="one input record (JSON)")
    parser.add_argument("--signed", type=Path, required=True, help="folder: with a signature")
    parser.add_argument("--unsigned", type=Path, required=True, help="folder: without one")
    args = parser.parse_args()
    _save_main(args.model, args.record, args.signed, args.unsigned)
