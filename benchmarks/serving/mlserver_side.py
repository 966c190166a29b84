"""Seldon MLServer's side: its own virtual environment, the booster as an MLServer model.

The environment is ``benchmarks/.venvs/mlserver`` (MLServer conflicts with forgeml's pins),
made with ``uv`` where it is available: ``mlserver`` and ``mlserver-lightgbm`` at
``MLSERVER_VERSION``, LightGBM at the version forgeml's environment has (and uvloop at
``UVLOOP_VERSION``). The model folder
holds the LightGBM text file, ``model-settings.json`` (the LightGBM runtime) and
``settings.json`` (ports; everything else MLServer's defaults). Requests are the Open
Inference Protocol's: one ``[1, 30]`` FP64 tensor at ``/v2/models/bench/infer``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _measure import anchor_python

MLSERVER_VERSION = "1.7.1"
# MLServer 1.7.1's inference workers call asyncio.get_event_loop() before setting a loop,
# which uvloop 0.22 and later refuse: its model never loads. 0.21 is the uvloop of its time.
UVLOOP_VERSION = "0.21.0"
MLSERVER_VENV = Path(__file__).resolve().parent.parent / ".venvs" / "mlserver"


def mlserver_python(lightgbm_version: str) -> Path:
    """MLServer's interpreter, with MLServer's LightGBM runtime and forgeml's LightGBM."""
    packages = [
        f"mlserver=={MLSERVER_VERSION}",
        f"mlserver-lightgbm=={MLSERVER_VERSION}",
        f"lightgbm=={lightgbm_version}",
        f"uvloop=={UVLOOP_VERSION}",
    ]
    wanted = {"mlserver": MLSERVER_VERSION, "lightgbm": lightgbm_version, "uvloop": UVLOOP_VERSION}
    return anchor_python(MLSERVER_VENV, packages, wanted)


def model_folder(folder: Path, model_file: Path, name: str, ports: tuple[int, int, int]) -> None:
    """The folder ``mlserver start`` serves: the model, its runtime and the server's ports."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, folder / "model.txt")
    settings = {
        "name": name,
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": "./model.txt", "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(settings))
    http, grpc, metrics = ports
    server = {"http_port": http, "grpc_port": grpc, "metrics_port": metrics, "host": "127.0.0.1"}
    (folder / "settings.json").write_text(json.dumps(server))


def server_command(python: Path, folder: Path) -> tuple[list[str], dict[str, str]]:
    bin_dir = python.parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    return [str(bin_dir / "mlserver"), "start", str(folder)], env


def infer_body(row: list[float]) -> dict[str, Any]:
    return {"inputs": [{"name": "x", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
