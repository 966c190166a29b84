"""Platform profiles: SageMaker, Vertex AI and Azure ML routes, bodies, payload limits and
model locations, in process and as ``forgeml serve --profile`` run the way a container is."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.serve.app import ModelServer, ServeOptions
from forgeml.serve.protocols.profiles import container_arguments, resolve_profile
from serve.protocol_cases import credit_rows, served_project
from serve.serving import Client, register
from support import ServerProcess

Served = tuple[Project, ModelServer, Client]
VERTEX_ENV = {
    "AIP_HTTP_PORT": "7080",
    "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/2",
    "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
    "AIP_STORAGE_URI": "gs://bucket/models/credit",
}


def _options(name: str, env: dict[str, str] | None = None) -> ServeOptions:
    profile = resolve_profile(name, env or {})
    return ServeOptions(
        profile=profile,
        max_body_bytes=profile.max_body_bytes or 1 << 20,
        freeze_gc=False,
        reload_interval=0.5,
    )


@pytest.fixture(scope="module")
def vertex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_project(tmp_path_factory, options=_options("vertex", VERTEX_ENV)) as served:
        yield served


@pytest.fixture(scope="module")
def azureml(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_project(tmp_path_factory, options=_options("azureml")) as served:
        yield served


def test_profiles_read_the_platforms_environment() -> None:
    sagemaker = resolve_profile("sagemaker", {})
    assert (sagemaker.port, sagemaker.health_route, sagemaker.predict_route) == (
        8080,
        "/ping",
        "/invocations",
    )
    assert sagemaker.model_dir == "/opt/ml/model" and sagemaker.max_body_bytes == 6_000_000
    assert resolve_profile("sagemaker", {"SAGEMAKER_BIND_TO_PORT": "9090"}).port == 9090
    assert resolve_profile("sagemaker-serverless", {}).max_body_bytes == 4_000_000
    vertex = resolve_profile("vertex", VERTEX_ENV)
    assert vertex.port == 7080 and vertex.model_dir == "gs://bucket/models/credit"
    assert vertex.max_body_bytes == 1_500_000
    assert resolve_profile("vertex", {}).port == 8080
    azure = resolve_profile("azureml", {"AZUREML_MODEL_DIR": "/var/azureml-app/model"})
    assert (azure.port, azure.health_route, azure.predict_route) == (5001, "/", "/score")
    assert azure.model_dir == "/var/azureml-app/model"
    with pytest.raises(ConfigError, match="AIP_HTTP_PORT"):
        resolve_profile("vertex", {"AIP_HTTP_PORT": "http"})
    with pytest.raises(ConfigError, match="AIP_PREDICT_ROUTE"):
        resolve_profile("vertex", {"AIP_PREDICT_ROUTE": "predict?x"})
    with pytest.raises(ConfigError, match="sagemaker, sagemaker-serverless, vertex, azureml"):
        resolve_profile("lambda")
    assert container_arguments(["serve"]) == []
    with pytest.raises(ConfigError, match="train"):
        container_arguments(["train"])


def test_vertex_routes_instances_and_limit(vertex: Served) -> None:
    _, _, client = vertex
    rows = credit_rows(3)
    expected = client.post("/predict", rows)[1]["predictions"]
    health = VERTEX_ENV["AIP_HEALTH_ROUTE"]
    predict = VERTEX_ENV["AIP_PREDICT_ROUTE"]
    assert client.get(health)[0] == 200
    status, body, _ = client.post(predict, {"instances": rows, "parameters": {}})
    assert status == 200 and body == {"predictions": expected}
    status, body, _ = client.post(predict, {"rows": rows})
    assert status == 400 and "instances" in body["error"]
    big = json.dumps({"instances": rows, "pad": "x" * 1_500_000}).encode()
    status, body, _ = client.post(predict, raw=big)
    assert status == 413 and "Vertex AI's limit of 1500000 bytes" in body["error"]


def test_azureml_input_data_and_liveness(azureml: Served) -> None:
    _, app, client = azureml
    rows = credit_rows(2)
    expected = client.post("/predict", rows)[1]["predictions"]
    status, body, _ = client.get("/")
    assert status == 200 and body == "Healthy"
    names = app.deployment.serving.champion.schema.names  # type: ignore[union-attr]
    split = {"columns": names, "index": [0, 1], "data": [[r[n] for n in names] for r in rows]}
    for data in (split, rows, [[r[n] for n in names] for r in rows]):
        status, body, _ = client.post("/score", {"input_data": data})
        assert status == 200 and body == expected, body
    status, body, _ = client.post("/score", {"data": rows})
    assert status == 400 and "input_data" in body["error"]
    status, body, _ = client.post("/score", {"input_data": [dict(rows[0], age="x")]})
    assert status == 422 and body["problems"][0]["field"] == "age"


@pytest.mark.slow
def test_a_sagemaker_container_command(
    sqlite_project: Project, server_process: Callable[..., ServerProcess]
) -> None:
    """``docker run IMAGE serve``: the trailing ``serve`` is accepted; /ping and CSV work."""
    register(sqlite_project)
    server = server_process(
        sqlite_project.root, "credit", "--profile", "sagemaker-serverless", "serve", ready="/ping"
    )
    client = Client(server.port)
    rows = credit_rows(2)
    header = ",".join(rows[0])
    lines = [
        ",".join(
            "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for v in r.values()
        )
        for r in rows
    ]
    body = ("\n".join([header, *lines]) + "\n").encode()
    status, answer, _ = client.post("/invocations", raw=body, headers={"content-type": "text/csv"})
    assert status == 200 and len(answer["predictions"]) == 2
    status, answer, _ = client.post("/invocations", raw=b"x" * 4_000_001)
    assert status == 413 and "SageMaker Serverless Inference" in answer["message"]
    client.close()


def test_the_openapi_document_lists_the_protocol_and_profile_routes(vertex: Served) -> None:
    _, _, client = vertex
    status, document, _ = client.get("/openapi.json")
    assert status == 200
    paths = document["paths"]
    for path in (
        "/invocations",
        "/ping",
        "/version",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/ready",
        VERTEX_ENV["AIP_HEALTH_ROUTE"],
        VERTEX_ENV["AIP_PREDICT_ROUTE"],
    ):
        assert path in paths, path
    predict = paths[VERTEX_ENV["AIP_PREDICT_ROUTE"]]["post"]
    assert predict["responses"]["413"]["description"].startswith("body or row count")
    schemas = document["components"]["schemas"]
    assert schemas["VertexRequest"]["required"] == ["instances"]
