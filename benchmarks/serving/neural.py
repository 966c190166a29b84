"""Benchmark: micro-batching a PyTorch model behind forgeml serve, against no batching and a
bare ASGI app that calls the model per request (TorchServe-style handler floor).

Claim: for a small CNN (1x28x28 images, two 3x3 convolutions) and a small MLP (64 inputs),
one image / row per JSON request, load generated over loopback at concurrency 1 and 16:

  (a) ``forgeml serve`` unbatched (``--max-batch 1``): validation, metrics, logging on;
  (b) ``forgeml serve --max-batch 16 --max-wait-ms 2`` (``--max-wait-ms`` here sets it):
      the same, micro-batched;
  (c) a bare ASGI app: decode the JSON, one forward pass per request, answer the argmax;
  (d) MLflow's pytorch flavor, ``mlflow models serve --env-manager local`` (MLflow in its
      own environment, see ``mlflow_torch.py``): the same network and weights saved with
      ``mlflow.pytorch.save_model`` (its default ``pt2`` format) and a signature, one
      instance per request in MLflow's tensor format ``{"inputs": [instance]}``;

gives (b) at least 2x (a)'s throughput at concurrency 16 for the CNN, and forgeml (its
better of (a) and (b)) at least 10x MLflow's throughput at concurrency 16, for each model.
Every server runs as its own process (one worker) pinned to one CPU; the load generator
runs pinned to the other.

    .venv/bin/python benchmarks/serving/neural.py --seconds 3 --warmup 1      # quick
    .venv/bin/python benchmarks/serving/neural.py                             # 10 s runs
    .venv/bin/python benchmarks/serving/neural.py --no-mlflow                 # forgeml only

The first run creates ``benchmarks/.venvs/mlflow-torch`` (MLflow and PyTorch).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from loadgen import LoadResult, build_request, run_load  # noqa: E402
from mlflow_side import server_command  # noqa: E402
from mlflow_torch import mlflow_torch_python, save  # noqa: E402
from servers import Server, free_port, pinning, post_json  # noqa: E402

from tracking_mlflow import ISOLATING_ENV, MLFLOW_VERSION  # noqa: E402

TARGET = 2.0
MLFLOW_TARGET = 10.0
MLFLOW_VENV = HERE.parent / ".venvs" / "mlflow-torch"
MODELS = {
    "cnn": ("SmallCNN", {"channels": 1, "size": 28, "classes": 10, "width": 16}, [1, 28, 28]),
    "mlp": ("MLP", {"inputs": 64, "outputs": 10, "hidden": [128, 64]}, [64]),
}


def prepare(
    work: Path, kind: str, mlflow: Path | None
) -> tuple[Path, Path, dict[str, Any], Path | None]:
    """A fresh project with the model logged and promoted; its weights file; one request;
    the same network saved as an MLflow model with ``mlflow``'s interpreter (None: not)."""
    import torch
    from safetensors.torch import save_file

    import forgeml
    from forgeml.flavors import nets
    from forgeml.registry import promote

    name, kwargs, shape = MODELS[kind]
    torch.manual_seed(0)
    net = getattr(nets, name)(**kwargs).eval()
    project = forgeml.init(str(work / f"project-{kind}"), name=f"bench-{kind}")
    sample = np.random.default_rng(0).random((8, *shape), dtype=np.float32)
    version = forgeml.log_model(
        net,
        name=kind,
        signature_from=sample,
        task="multiclass",
        classes=list(range(10)),
        project=project,
    )
    promote(version.ref, reason="benchmark", project=project)
    project.close()
    weights = work / f"{kind}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    folder = None
    if mlflow is not None:
        folder = work / f"mlflow-{kind}"
        state = {k: v.numpy() for k, v in net.state_dict().items()}
        save(mlflow, work, name, kwargs, state, sample, folder)
    return work / f"project-{kind}", weights, {"input": [sample[0].tolist()]}, folder


def mlflow_server(work: Path, kind: str, python: Path, folder: Path, cpu: int | None) -> Server:
    port = free_port()
    argv, env = server_command(python, folder, port)
    env = {k: v for k, v in env.items() if k not in ISOLATING_ENV}
    return Server("mlflow", argv, env, port, "/ping", work / f"mlflow-{kind}-{port}.log", cpu)


def forgeml_server(
    work: Path, kind: str, project: Path, cpu: int | None, batch: int, wait_ms: float = 2.0
) -> Server:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATING_ENV}
    env["FORGEML_PROJECT"] = str(project)
    port = free_port()
    argv = [sys.executable, "-m", "forgeml.cli", "serve", kind, "--port", str(port)]
    argv += ["--max-batch", str(batch), "--max-wait-ms", str(wait_ms)]
    return Server(f"forgeml-b{batch}", argv, env, port, "/ready", work / f"{kind}-{port}.log", cpu)


def bare_server(work: Path, kind: str, weights: Path, cpu: int | None) -> Server:
    script = HERE / "bare_torch.py"
    name, kwargs, shape = MODELS[kind]
    port = free_port()
    argv = [sys.executable, str(script), name, orjson.dumps(kwargs).decode()]
    argv += [orjson.dumps(shape).decode(), str(weights), str(port)]
    return Server("bare", argv, dict(os.environ), port, "/health", work / f"bare-{port}.log", cpu)


def measure(
    server: Server,
    body: dict[str, Any],
    args: argparse.Namespace,
    load_cpu: int | None,
    work: Path,
    path: str = "/predict",
) -> dict[int, LoadResult]:
    server.start()
    try:
        status, answer = post_json(server.port, path, orjson.dumps(body))
        if status != 200:
            raise RuntimeError(f"{server.name} answered {status}: {answer}")
        return {
            c: run_load(
                server.port,
                build_request(path, orjson.dumps(body), server.port),
                concurrency=c,
                seconds=args.seconds,
                warmup=args.warmup,
                cpu=load_cpu,
                work=work,
            )
            for c in (1, 16)
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--models", default="cnn,mlp")
    parser.add_argument("--max-wait-ms", type=float, default=2.0, help="The batched server's wait.")
    parser.add_argument("--no-mlflow", action="store_true", help="Leave MLflow's server out.")
    args = parser.parse_args(argv)
    pins = pinning()
    server_cpu, load_cpu = pins if pins else (None, None)
    python = None
    if not args.no_mlflow:
        import torch

        python = mlflow_torch_python(MLFLOW_VENV, MLFLOW_VERSION, torch.__version__)
    verdicts = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for kind in args.models.split(","):
            project, weights, body, saved = prepare(work, kind, python)
            results = {
                "forgeml unbatched": measure(
                    forgeml_server(work, kind, project, server_cpu, 1), body, args, load_cpu, work
                ),
                "forgeml batched": measure(
                    forgeml_server(work, kind, project, server_cpu, 16, args.max_wait_ms),
                    body,
                    args,
                    load_cpu,
                    work,
                ),
                "bare ASGI": measure(
                    bare_server(work, kind, weights, server_cpu), body, args, load_cpu, work
                ),
            }
            if python is not None and saved is not None:
                results["mlflow pytorch"] = measure(
                    mlflow_server(work, kind, python, saved, server_cpu),
                    {"inputs": body["input"]},
                    args,
                    load_cpu,
                    work,
                    "/invocations",
                )
            print(f"\n{kind}: requests/s (p50 / p99 latency, ms; errors)")
            for name, by_c in results.items():
                cells = [
                    f"c={c}: {r.rps:8.0f} ({r.p50_us / 1e3:.2f} / {r.p99_us / 1e3:.2f}; {r.errors})"
                    for c, r in by_c.items()
                ]
                print(f"  {name:18s} " + "   ".join(cells))
            batched = results["forgeml batched"][16].rps
            plain = results["forgeml unbatched"][16].rps
            bare = results["bare ASGI"][16].rps
            ratio = batched / plain if plain else float("inf")
            print(
                f"  c=16 batched / unbatched: {ratio:.2f}x (target >= {TARGET}x)  "
                f"batched / bare ASGI: {batched / bare if bare else float('inf'):.2f}x"
            )
            versus = None
            if "mlflow pytorch" in results:
                theirs = results["mlflow pytorch"][16].rps
                versus = max(batched, plain) / theirs if theirs else float("inf")
                print(f"  c=16 forgeml (better of the two) / MLflow pytorch: {versus:.1f}x")
            verdicts.append((kind, ratio, versus))
    for kind, ratio, versus in verdicts:
        if kind == "cnn":
            print(
                f"{'PASS' if ratio >= TARGET else 'MISS'}: CNN micro-batching {ratio:.2f}x "
                f"unbatched throughput at c=16 (target {TARGET}x)"
            )
        if versus is not None:
            print(
                f"{'PASS' if versus >= MLFLOW_TARGET else 'MISS'}: {kind.upper()} forgeml "
                f"{versus:.1f}x MLflow's pytorch flavor at c=16 (target {MLFLOW_TARGET:.0f}x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
