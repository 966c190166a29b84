"""``forgeml k8s MODEL@V --output DIR [--kserve]``: Kubernetes manifests for a model image.

Plain Kubernetes: a Deployment (requests and limits, readiness on ``/v2/health/ready``,
liveness on ``/v2/health/live``, a startupProbe for the model's load, a preStop pause so
endpoints drop the pod before it stops, a grace period longer than the server's drain), a
Service, a HorizontalPodAutoscaler (``autoscaling/v2`` with an explicit ``behavior``) and
a PodDisruptionBudget. With KServe: one ``InferenceService`` whose predictor is the same
container, speaking the Open Inference Protocol: KServe reads a custom container's protocol
from its ``PROTOCOL`` variable (``protocolVersion`` belongs to a model spec, not to a
predictor of containers, and KServe's schema refuses it there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forgeml.deploy.docker import PORT
from forgeml.deploy.names import dns_name
from forgeml.errors import ConfigError
from forgeml.project import ProjectLike
from forgeml.registry.versions import model_version

__all__ = ["K8sOptions", "kserve_manifests", "manifests", "write_manifests"]

READY = "/v2/health/ready"
LIVE = "/v2/health/live"


@dataclass(frozen=True)
class K8sOptions:
    """What a cluster needs to know besides the model: image, size and scale."""

    image: str | None = None
    namespace: str | None = None
    replicas: int = 2
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"
    target_cpu: int = 70
    grace_seconds: int = 30

    def check(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ConfigError(
                f"replicas {self.min_replicas}..{self.max_replicas} are not a range",
                fix="pass --min-replicas at least 1 and at most --max-replicas",
            )
        if not 1 <= self.target_cpu <= 100:
            raise ConfigError(
                f"target CPU {self.target_cpu}% is not a percentage",
                fix="pass --target-cpu between 1 and 100",
            )
        if self.grace_seconds < 5:
            raise ConfigError(
                f"a grace period of {self.grace_seconds} s leaves no time to drain",
                fix="pass --grace-seconds of 5 or more (30 is Kubernetes' default)",
            )


def manifests(name: str, version: int, options: K8sOptions) -> list[dict[str, Any]]:
    """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget."""
    options.check()
    app = dns_name(name, version)
    labels = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/component": "predictor",
        "app.kubernetes.io/managed-by": "forgeml",
        "forgeml.dev/model": dns_name(name),
        "forgeml.dev/version": str(version),
    }
    selector = {"app.kubernetes.io/name": app}
    meta = _meta(app, labels, options)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": options.grace_seconds,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [_container(name, version, options)],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
            "minReplicas": options.min_replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": options.target_cpu},
                    },
                }
            ],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Percent", "value": 100, "periodSeconds": 15},
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                    ],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    }
    return [deployment, service, hpa, pdb]


def kserve_manifests(name: str, version: int, options: K8sOptions) -> list[dict[str, Any]]:
    """A KServe InferenceService with a custom-container predictor (Open Inference Protocol)."""
    options.check()
    app = dns_name(name, version)
    labels = {"app.kubernetes.io/managed-by": "forgeml", "forgeml.dev/version": str(version)}
    container = _container(name, version, options)
    container["name"] = "kserve-container"  # the name KServe expects for a custom predictor
    container["env"] = [{"name": "PROTOCOL", "value": "v2"}]  # KServe's key for its protocol
    service: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": _meta(app, labels, options),
        "spec": {
            "predictor": {
                "minReplicas": options.min_replicas,
                "maxReplicas": options.max_replicas,
                "scaleMetric": "cpu",
                "scaleTarget": options.target_cpu,
                "terminationGracePeriodSeconds": options.grace_seconds,
                "containers": [container],
            }
        },
    }
    service["metadata"]["annotations"] = {"serving.kserve.io/deploymentMode": "RawDeployment"}
    return [service]


def write_manifests(
    ref: str,
    out: str | os.PathLike[str],
    *,
    kserve: bool = False,
    options: K8sOptions | None = None,
    project: ProjectLike = None,
) -> list[Path]:
    """Write the manifests for model version ``ref`` into ``out``, one file per object."""
    version = model_version(ref, project=project)
    chosen = options or K8sOptions()
    docs = (kserve_manifests if kserve else manifests)(version.name, version.version, chosen)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in docs:
        path = folder / f"{doc['kind'].lower()}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        written.append(path)
    return written


def _meta(app: str, labels: dict[str, str], options: K8sOptions) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": app, "labels": labels}
    if options.namespace:
        meta["namespace"] = dns_name(options.namespace)
    return meta


def _container(name: str, version: int, options: K8sOptions) -> dict[str, Any]:
    image = options.image or f"{dns_name(name)}:{version}"
    if any(c.isspace() for c in image):
        raise ConfigError(f"image {image!r} is not an image reference", fix="pass --image")
    return {
        "name": "model",
        "image": image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
            "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
        },
        "readinessProbe": _probe(READY, period=5, failures=3),
        "livenessProbe": _probe(LIVE, period=10, failures=3),
        "startupProbe": _probe(READY, period=2, failures=60),
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }
