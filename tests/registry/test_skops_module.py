"""skops is imported for scikit-learn models without importing PyTorch on the way."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
SCRIPT = """
import sys
from sklearn.linear_model import LogisticRegression
from forgeml.registry.skops_module import skops_io
from forgeml.registry.trust import load_checked

sio = skops_io()
data = sio.dumps(LogisticRegression().fit([[0.0], [1.0]], [0, 1]))
print("predicts", load_checked(data, "model part").predict([[1.0]]).tolist())
print("torch imported", "torch" in sys.modules)
print("same module", skops_io() is sio is sys.modules["skops.io"])
if {installed}:
    import torch  # still importable afterwards
    print("torch importable", torch.__name__)
"""


def test_skops_loads_models_and_leaves_torch_out_yet_importable() -> None:
    installed = importlib.util.find_spec("torch") is not None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(installed=installed)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "predicts [1]" in lines
    assert "torch imported False" in lines  # scikit-learn's package walk did not import it
    assert "same module True" in lines
    if installed:
        assert "torch importable torch" in lines
