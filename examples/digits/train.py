"""Train a CNN on scikit-learn's digits in plain PyTorch, then log, gate, serve and monitor it.

python examples/digits/train.py --dir /tmp/digits [--epochs 3] [--port 8123]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

import forgeml
from forgeml.flavors.nets import SmallCNN
from forgeml.monitor.run import monitor
from forgeml.registry import promote
from forgeml.training.gate_version import gate


def train_cnn(images: np.ndarray, labels: np.ndarray, epochs: int) -> SmallCNN:
    """The user's own training loop: nothing forgeml-specific in it."""
    torch.manual_seed(0)
    net = SmallCNN(channels=1, size=8, classes=10, width=16)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            batch = order[start : start + 64]
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
    return net.eval()


def post(port: int, body: Any) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def serve(project: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FORGEML_PROJECT": str(project)}
    argv = [sys.executable, "-m", "forgeml.cli", "serve", "digits", "--port", str(port)]
    log = project / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1):
                return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    server.terminate()
    server.wait()
    raise RuntimeError("the server did not become ready in 60 s")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="digits-project")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, np.newaxis]  # (n, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    train, held = slice(0, 1300), slice(1300, None)
    net = train_cnn(images[train], labels[train], args.epochs)

    project = forgeml.init(args.dir, name="digits")
    pixels = pd.DataFrame(images[held].reshape(-1, 64), columns=[f"p{i}" for i in range(64)])
    stored = forgeml.ingest(pixels.assign(label=labels[held]), name="digits-held", project=project)
    version = forgeml.log_model(
        net,
        name="digits",
        signature_from=images[train][:256],
        task="multiclass",
        classes=list(range(10)),
        dataset=stored.version.ref,
        target="label",
        project=project,
    )
    report = gate(version.ref, project=project)
    print(
        f"logged {version.ref}: accuracy {report.metrics['accuracy']:.3f} on held-out digits; "
        f"gate {'passed' if report.result.passed else 'failed'}"
    )
    promote(version.ref, reason="trained in examples/digits/train.py", project=project)
    project.close()

    port = args.port or _free_port()
    server = serve(Path(args.dir), port)
    try:
        normal = post(port, {"input": images[held][:100].tolist()})
        shifted = post(port, {"input": (1.0 - images[held][100:200]).tolist()})
        wrong = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=b'{"input": [[1, 2, 3]]}',
            headers={"content-type": "application/json"},
        )
        try:
            urllib.request.urlopen(wrong, timeout=30)
            refused = 200
        except urllib.error.HTTPError as e:
            refused = e.code
    finally:
        server.terminate()
        server.wait(timeout=60)
    served_accuracy = float(np.mean(np.array(normal["predictions"]) == labels[held][:100]))
    print(
        f"served 200 images as tensors: accuracy {served_accuracy:.3f} on the first 100; "
        f"a wrong shape answered {refused}"
    )

    watched = monitor("digits", project=forgeml.open_project(args.dir), alert=False)
    drifted = sorted({c for w in watched.windows if w.drift for c in w.drift.drifted_columns})
    print(f"monitoring: drift in {', '.join(drifted) or 'nothing'}")
    return {
        "gate_accuracy": report.metrics["accuracy"],
        "served_accuracy": served_accuracy,
        "refused": refused,
        "shifted": len(shifted["predictions"]),
        "drifted": drifted,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
