"""MLflow's pytorch flavor: its own environment, the network saved as an MLflow model.

The environment is ``benchmarks/.venvs/mlflow-torch``: MLflow at the version the other
benchmarks use and PyTorch at the version forgeml's environment has (installed with pip
first, as the Makefile does, so that the CPU build is picked; then MLflow with uv where
it is available). Run with that environment's python, this file saves the model:

    benchmarks/.venvs/mlflow-torch/bin/python mlflow_torch.py --nets nets.py \\
        --name SmallCNN --init '{"classes": 10}' --weights w.npz --sample x.npy --out DIR

``mlflow.pytorch.save_model`` stores it in its default format outside Databricks, ``pt2``
(a ``torch.export`` program traced on the sample batch, which loads without pickle), with
a signature inferred from the float32 sample, so that MLflow checks and casts each
request's tensor as forgeml does. The saving script imports the architecture from a copy
of ``forgeml/flavors/nets.py`` (which needs only PyTorch). Requests use MLflow's
documented tensor format, ``{"inputs": [instance]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _measure import anchor_python, venv_versions

QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def mlflow_torch_python(venv: Path, mlflow_version: str, torch_version: str) -> Path:
    """The environment's interpreter, with MLflow and PyTorch at the wanted versions."""
    wanted = {"mlflow": mlflow_version, "torch": torch_version}
    python = venv / "bin" / "python"
    if venv_versions(python, *wanted) == ", ".join(wanted.values()):
        return python
    release = torch_version.split("+")[0]  # the local build label is the index's business
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing torch=={release} into {venv} ...", file=sys.stderr)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"torch=={release}"], check=True)
    return anchor_python(venv, [f"mlflow=={mlflow_version}", f"torch=={release}"], wanted)


def save(
    python: Path,
    work: Path,
    name: str,
    init: dict[str, object],
    state: dict[str, object],
    sample: object,
    out: Path,
) -> None:
    """Save the network ``name(**init)`` with weights ``state`` (name -> array) at ``out``."""
    import numpy as np

    import forgeml.flavors.nets as nets

    code = work / "mlflow-code"
    package = code / "forgeml" / "flavors"
    package.mkdir(parents=True, exist_ok=True)
    for folder in (code / "forgeml", package):
        (folder / "__init__.py").write_text("")
    shutil.copy(nets.__file__, package / "nets.py")
    weights, sample_file = work / f"{out.name}.npz", work / f"{out.name}.npy"
    np.savez(weights, **state)  # type: ignore[arg-type]
    np.save(sample_file, sample)
    argv = [str(python), str(Path(__file__).resolve()), "--code", str(code), "--name", name]
    argv += ["--init", json.dumps(init), "--weights", str(weights)]
    argv += ["--sample", str(sample_file), "--out", str(out)]
    done = subprocess.run(argv, env={**os.environ, **QUIET}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"saving the MLflow pytorch model failed:\n{done.stderr[-3000:]}")


def _save_main(code: Path, name: str, init: str, weights: Path, sample: Path, out: Path) -> None:
    import mlflow.pytorch
    import numpy as np
    import torch
    from mlflow.models import infer_signature

    sys.path.insert(0, str(code))
    from forgeml.flavors import nets

    net = getattr(nets, name)(**json.loads(init))
    with np.load(weights) as arrays:
        net.load_state_dict({k: torch.from_numpy(arrays[k]) for k in arrays.files})
    net.eval()
    x = np.load(sample)
    with torch.inference_mode():
        y = net(torch.from_numpy(x)).numpy()
    signature = infer_signature(x, y)
    mlflow.pytorch.save_model(net, str(out), signature=signature, input_example=x)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="save a forgeml network as an MLflow model")
    parser.add_argument("--code", type=Path, required=True, help="folder holding forgeml/")
    parser.add_argument("--name", required=True, help="class in forgeml.flavors.nets")
    parser.add_argument("--init", required=True, help="constructor keyword arguments (JSON)")
    parser.add_argument("--weights", type=Path, required=True, help="state dict as .npz")
    parser.add_argument("--sample", type=Path, required=True, help="float32 batch as .npy")
    parser.add_argument("--out", type=Path, required=True, help="the model folder to write")
    args = parser.parse_args()
    _save_main(args.code, args.name, args.init, args.weights, args.sample, args.out)
