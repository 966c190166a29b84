"""Kubernetes and KServe manifests: valid for two Kubernetes versions, equal to golden files."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from forgeml.deploy.k8s import K8sOptions, kserve_manifests, manifests, write_manifests
from forgeml.errors import ConfigError
from forgeml.project import Project

GOLDEN = Path(__file__).parent / "golden"
KUBERNETES = ["1.30", "1.34"]


@pytest.mark.parametrize("version", KUBERNETES)
def test_every_manifest_is_valid_strictly(version: str) -> None:
    for document in manifests("credit_risk", 3, K8sOptions(namespace="ml")):
        kubernetes_validate.validate(document, version, strict=True)


def test_manifests_equal_the_golden_files(deploy_project: Project, tmp_path: Path) -> None:
    written = write_manifests("credit@1", tmp_path, project=deploy_project)
    assert [p.name for p in written] == [
        "deployment.yaml",
        "service.yaml",
        "horizontalpodautoscaler.yaml",
        "poddisruptionbudget.yaml",
    ]
    for path in written:
        assert path.read_text() == (GOLDEN / path.name).read_text(), path.name


def test_deployment_probes_drain_and_autoscaling() -> None:
    deployment, service, hpa, pdb = manifests("credit", 1, K8sOptions(grace_seconds=40))
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert (
        container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"]
        >= 60
    )
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
    assert pod["terminationGracePeriodSeconds"] == 40
    assert set(container["resources"]) == {"requests", "limits"}
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert set(hpa["spec"]["behavior"]) == {"scaleUp", "scaleDown"}
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_kserve_inference_service(deploy_project: Project, tmp_path: Path) -> None:
    written = write_manifests("credit@1", tmp_path, kserve=True, project=deploy_project)
    assert [p.name for p in written] == ["inferenceservice.yaml"]
    assert written[0].read_text() == (GOLDEN / "inferenceservice.yaml").read_text()
    (service,) = kserve_manifests("credit", 1, K8sOptions(image="registry.example/credit:1"))
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    assert predictor["protocolVersion"] == "v2"
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert container["image"] == "registry.example/credit:1"
    # the container part is a core/v1 Container: check it with Kubernetes' own schema
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
    pod["spec"] = {"containers": [container]}
    for version in KUBERNETES:
        kubernetes_validate.validate(pod, version, strict=True)


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="not a range"):
        manifests("credit", 1, K8sOptions(min_replicas=5, max_replicas=2))
    with pytest.raises(ConfigError, match="no valid Kubernetes name"):
        manifests("___", 1, K8sOptions())
    with pytest.raises(ConfigError, match="no time to drain"):
        manifests("credit", 1, K8sOptions(grace_seconds=1))


def test_yaml_round_trips() -> None:
    for document in manifests("credit", 1, K8sOptions()):
        assert yaml.safe_load(yaml.safe_dump(document)) == document
