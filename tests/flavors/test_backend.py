"""Keras' backend is chosen before Keras is first imported, whichever path imports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
FIRST_IMPORT = """
from forgeml.flavors import flavor_module, packages
module = flavor_module("keras")
import keras
print(keras.backend.backend(), packages("keras")[-1], module.__name__)
"""


def test_the_keras_flavor_sets_the_backend_before_keras_is_imported() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = str(SRC)
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    backend, package, module = done.stdout.split()
    assert backend == package == "torch"  # no TensorFlow here: Keras runs on PyTorch
    assert module == "forgeml.flavors.keras_flavor"
