"""``forgeml export MODEL@V --format sagemaker|vertex|azureml OUT/``: bundles, no cloud calls.

* SageMaker: ``model.tar.gz`` holding the model directory at its root, which SageMaker
  unpacks into ``/opt/ml/model`` for the container (``forgeml build docker --profile
  sagemaker`` makes one that reads it there).
* Vertex AI: ``model/`` (upload it to the ``artifactUri`` bucket) and
  ``container_spec.json``, the ``containerSpec`` of ``gcloud ai models upload`` /
  ``Model.upload(serving_container_...)``: image, ports, health and predict routes.
* Azure ML: ``model/``, ``score.py`` with ``init()`` and ``run()`` over forgeml's
  predictor, and ``deployment.yml`` + ``environment.yml`` for a managed online endpoint.
  ``score.py`` reads tables, so a model taking tensors is refused here: its image (``forgeml
  build docker --profile azureml``) serves Azure ML's route as a custom container.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import Any

import yaml

from forgeml.deploy.docker import PORT
from forgeml.deploy.modeldir import ModelDir, write_model_dir
from forgeml.deploy.names import dns_name
from forgeml.deploy.staging import empty_target, staged
from forgeml.errors import ConfigError
from forgeml.project import ProjectLike

__all__ = ["CLOUD_FORMATS", "SCORE_PY", "export_cloud"]

CLOUD_FORMATS = ("sagemaker", "vertex", "azureml")


def export_cloud(
    ref: str,
    out: str | os.PathLike[str],
    target: str,
    *,
    image: str | None = None,
    project: ProjectLike = None,
) -> Path:
    """Write the ``target`` platform's bundle for ``ref`` into ``out`` (new or empty)."""
    if target not in CLOUD_FORMATS:
        raise ConfigError(
            f"unknown platform {target!r}", fix=f"use one of: {', '.join(CLOUD_FORMATS)}"
        )
    folder = empty_target(out)
    with staged(folder) as staging:
        found = write_model_dir(ref, staging / "model", project=project)
        if target == "azureml" and found.signature.get("tensors"):
            raise _tensors_refused(found)
        chosen = image or f"{dns_name(found.name)}:{found.manifest['version']}"
        if target == "sagemaker":
            _sagemaker(found, staging)
        elif target == "vertex":
            _json(staging / "container_spec.json", vertex_container_spec(chosen))
        else:
            _azureml(found, staging, chosen)
    return folder


def vertex_container_spec(image: str) -> dict[str, Any]:
    """Vertex AI's ``containerSpec``: the server reads ``AIP_*`` under the vertex profile."""
    return {
        "imageUri": image,
        "args": ["--profile", "vertex"],
        "ports": [{"containerPort": PORT}],
        "predictRoute": "/predict",
        "healthRoute": "/v2/health/ready",
    }


def _sagemaker(found: ModelDir, root: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for file in sorted(found.path.iterdir()):
            info = archive.gettarinfo(str(file), arcname=file.name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with file.open("rb") as data:
                archive.addfile(info, data)
    (root / "model.tar.gz").write_bytes(buffer.getvalue())
    shutil.rmtree(found.path)  # the archive is the bundle


def _azureml(found: ModelDir, root: Path, image: str) -> None:
    (root / "score.py").write_text(SCORE_PY)
    name = dns_name(found.name)
    version = int(found.manifest["version"])
    requirements = found.file("requirements").read_text().split()
    environment = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/environment.schema.json",
        "name": f"{name}-env",
        "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        "conda_file": {
            "name": f"{name}-env",
            "channels": ["conda-forge"],
            "dependencies": ["python=3.11", "pip", {"pip": [*requirements, "pandas"]}],
        },
    }
    deployment = {
        "$schema": "https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json",
        "name": f"{name}-v{version}",
        "endpoint_name": name,
        "model": {"name": name, "version": version, "path": "model"},
        "code_configuration": {"code": ".", "scoring_script": "score.py"},
        "environment": "file:environment.yml",
        "instance_type": "Standard_DS2_v2",
        "instance_count": 1,
        "request_settings": {"request_timeout_ms": 5000, "max_concurrent_requests_per_instance": 4},
        "liveness_probe": {"initial_delay": 10, "period": 10},
        "readiness_probe": {"initial_delay": 10, "period": 10},
        "tags": {"forgeml_model": found.ref, "image": image},
    }
    (root / "environment.yml").write_text(yaml.safe_dump(environment, sort_keys=False))
    (root / "deployment.yml").write_text(yaml.safe_dump(deployment, sort_keys=False))


def _tensors_refused(found: ModelDir) -> ConfigError:
    shape = found.signature["tensors"][0]["shape"]
    return ConfigError(
        f"{found.ref} is a {found.flavor} model taking a tensor ({shape}); the azureml "
        "bundle's score.py reads tables (pandas DataFrames), so it cannot feed this model",
        fix=f"build the serving image (forgeml build docker {found.ref} --profile azureml) "
        "and deploy it to Azure ML as a custom container, which takes tensors; or export "
        "--format sagemaker or vertex, whose containers take them too",
    )


def _json(path: Path, document: Any) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


SCORE_PY = '''"""Azure ML scoring script for a forgeml model: init() loads, run() predicts.

The model directory is ``$AZUREML_MODEL_DIR/model`` (Azure ML mounts the registered
model there); every file is checked against its sha256 before it is parsed.
Requests: ``{"input_data": {"columns": [...], "data": [[...]]}}``, ``{"input_data":
[{...}, ...]}`` (records) or a bare list of records. Replies: ``{"predictions": [...]}``.
"""

import json
import os

model = None


def init():
    global model
    from forgeml.deploy.pyfunc import PyfuncModel

    root = os.environ.get("AZUREML_MODEL_DIR", os.path.dirname(os.path.abspath(__file__)))
    folder = os.path.join(root, "model")
    model = PyfuncModel(folder if os.path.isdir(folder) else root)


def run(raw_data):
    import pandas as pd

    try:
        payload = json.loads(raw_data) if isinstance(raw_data, (str, bytes)) else raw_data
        data = payload.get("input_data", payload) if isinstance(payload, dict) else payload
        if isinstance(data, dict) and "columns" in data and "data" in data:
            frame = pd.DataFrame(data["data"], columns=data["columns"])
        elif isinstance(data, list):
            frame = pd.DataFrame(data)
        else:
            return {"error": "send input_data as records or {columns, data}"}
        out = model.predict(frame)
    except Exception as error:  # a bad request must not take the endpoint down
        return {"error": f"{type(error).__name__}: {error}"}
    if list(out.columns) == ["score"]:
        return {"predictions": out["score"].tolist()}
    return {"predictions": out.to_dict(orient="records")}
'''
