"""Deploy targets: a self-contained model directory, MLflow models in and out, cloud bundles,
Docker build contexts and Kubernetes manifests. Nothing here calls a cloud or a cluster."""

from __future__ import annotations

__all__: list[str] = []
