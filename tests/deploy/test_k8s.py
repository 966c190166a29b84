"""Kubernetes and KServe manifests: valid for two Kubernetes versions (KServe's against its
own schema), equal to golden files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from forgeml.deploy.k8s import K8sOptions, kserve_manifests, manifests, write_manifests
from forgeml.errors import ConfigError
from forgeml.project import Project
from openapi_schemas import (
    REMOVED,
    errors,
    errors_when,
    json_schema,
    kubernetes_type,
    model_tables,
    validator,
)
from toolvenvs import tool_python

GOLDEN = Path(__file__).parent / "golden"
KUBERNETES = ["1.30", "1.34"]
KSERVE = "kserve==0.21.0"  # its models are generated from KServe's OpenAPI spec


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
    (container,) = predictor["containers"]
    assert container["env"] == [{"name": "PROTOCOL", "value": "v2"}]  # KServe reads it here
    assert container["name"] == "kserve-container"
    assert container["image"] == "registry.example/credit:1"
    # the container part is a core/v1 Container: check it with Kubernetes' own schema
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}
    pod["spec"] = {"containers": [container]}
    for version in KUBERNETES:
        kubernetes_validate.validate(pod, version, strict=True)


@pytest.fixture(scope="module")
def kserve_tables() -> dict[str, Any]:
    python = tool_python("kserve", [KSERVE])  # its pins (pandas < 3) conflict with ours
    return model_tables(python, "kserve.models", "V1beta1InferenceService")


@pytest.mark.slow
@pytest.mark.parametrize("version", KUBERNETES)
def test_inference_service_is_valid_against_kserves_schema(
    kserve_tables: dict[str, Any], version: str
) -> None:
    check = validator(json_schema(kserve_tables, kubernetes_type(version)), version)
    golden = yaml.safe_load((GOLDEN / "inferenceservice.yaml").read_text())
    (service,) = kserve_manifests("credit", 2, K8sOptions(namespace="ml", grace_seconds=45))
    assert errors(check, golden) == []
    assert errors(check, service) == []

    def broken(path: str, value: object) -> list[str]:
        return errors_when(check, golden, path, value)

    predictor = "spec.predictor"
    container = f"{predictor}.containers.0"
    assert broken(f"{predictor}.protocolVersion", "v2") == [
        f"{predictor}: Additional properties are not allowed ('protocolVersion' was unexpected)"
    ]
    assert broken(f"{predictor}.maxReplicas", "10") == [
        f"{predictor}.maxReplicas: '10' is not of type 'integer'"
    ]
    assert broken("spec.predictor", REMOVED) == ["spec: 'predictor' is a required property"]
    # the container part is Kubernetes' own core/v1 Container, strict
    assert broken(f"{container}.name", REMOVED) == [f"{container}: 'name' is a required property"]
    assert broken(f"{container}.imagePullPolicyy", "Always") == [
        f"{container}: Additional properties are not allowed ('imagePullPolicyy' was unexpected)"
    ]
    assert broken(f"{container}.ports.0.containerPort", "8080") == [
        f"{container}.ports.0.containerPort: '8080' is not of type 'integer'"
    ]


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
