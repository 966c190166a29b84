"""Compiled pipelines, checked by the real tools: kfp loads the KFP YAML, Argo's OpenAPI spec
(as the ``argo-workflows`` client's models carry it) and hera's models (generated from Argo's
JSON schema) validate the Workflow, Python parses the DAG."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from forgeml.errors import ConfigError
from forgeml.pipeline import load_pipeline
from forgeml.pipeline.compile import compile_pipeline
from forgeml.project import Project
from openapi_schemas import REMOVED, errors, errors_when, json_schema, model_tables, validator
from toolvenvs import run_in, tool_python

EDGES = {
    "ingest": [],
    "validate": ["ingest"],
    "train": ["validate"],
    "gate": ["train"],
    "register": ["gate"],
    "score": ["register"],
    "summary": ["score"],
}

KFP_CHECK = """
import json, sys
from kfp import compiler, components
from google.protobuf import json_format
loaded = components.load_component_from_file(sys.argv[1])
spec = loaded.pipeline_spec
compiler.Compiler().compile(loaded, sys.argv[2])  # the SDK writes it back out: well-formed
executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
print(json.dumps({
    "schema": spec.schema_version,
    "name": spec.pipeline_info.name,
    "edges": {n: sorted(t.dependent_tasks) for n, t in spec.root.dag.tasks.items()},
    "commands": {n: e["container"]["command"] + e["container"]["args"]
                 for n, e in executors.items()},
    "images": sorted({e["container"]["image"] for e in executors.values()}),
}))
"""

ARGO_CHECK = """
import json, sys, yaml
from hera.workflows.models import Workflow
document = yaml.safe_load(open(sys.argv[1]))
workflow = Workflow.model_validate(document)
# a key Argo's schema does not know would be dropped on the way through: refuse it
assert workflow.model_dump(by_alias=True, exclude_unset=True, mode="json") == document
dag = next(t for t in workflow.spec.templates if t.dag is not None)
print(json.dumps({t.name: sorted(t.dependencies or []) for t in dag.dag.tasks}))
"""


@pytest.fixture(scope="module")
def nightly(example: Project) -> Project:
    return example


def test_kfp_yaml_is_loaded_by_the_kfp_sdk_with_the_same_dag(
    nightly: Project, tmp_path: Path
) -> None:
    out = compile_pipeline(
        "nightly",
        target="kfp",
        output=tmp_path / "p.yaml",
        image="reg/forgeml:1",
        project=nightly,
    )
    python = tool_python("kfp", ["kfp>=2.7,<3"])
    done = run_in(python, KFP_CHECK, str(out), str(tmp_path / "again.yaml"))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["schema"] == "2.1.0" and found["name"] == "nightly"
    assert found["edges"] == EDGES
    assert found["images"] == ["reg/forgeml:1"]
    assert found["commands"]["exec-train"] == ["forgeml", "pipeline", "step", "nightly", "train"]


def test_argo_workflow_validates_against_argos_schema(nightly: Project, tmp_path: Path) -> None:
    out = compile_pipeline("nightly", target="argo", output=tmp_path / "wf.yaml", project=nightly)
    document = yaml.safe_load(out.read_text())
    assert document["kind"] == "Workflow"
    images = {t["container"]["image"] for t in document["spec"]["templates"] if "container" in t}
    assert images == {"ghcr.io/forgeml/forgeml:latest"}  # the pipeline's image in forgeml.yaml
    python = tool_python("argo", ["hera>=5.16", "pyyaml"])
    done = run_in(python, ARGO_CHECK, str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EDGES

    broken = tmp_path / "broken.yaml"
    document["spec"]["entrypiont"] = document["spec"].pop("entrypoint")
    broken.write_text(yaml.safe_dump(document))
    assert run_in(python, ARGO_CHECK, str(broken)).returncode != 0


def test_argo_workflow_is_valid_against_argos_openapi_spec(
    nightly: Project, tmp_path: Path
) -> None:
    python = tool_python("argo-workflows", ["argo-workflows==6.7.18"])
    tables = model_tables(python, "argo_workflows.models", "IoArgoprojWorkflowV1alpha1Workflow")
    check = validator(json_schema(tables))  # Argo's spec defines the Kubernetes types it uses
    out = compile_pipeline("nightly", target="argo", output=tmp_path / "wf.yaml", project=nightly)
    document = yaml.safe_load(out.read_text())
    assert errors(check, document) == []

    def broken(path: str, value: object) -> list[str]:
        return errors_when(check, document, path, value)

    templates = document["spec"]["templates"]
    task = f"spec.templates.{next(i for i, t in enumerate(templates) if 'dag' in t)}.dag.tasks.1"
    step = f"spec.templates.{next(i for i, t in enumerate(templates) if 'container' in t)}"
    assert broken("spec.entrypiont", "nightly") == [
        "spec: Additional properties are not allowed ('entrypiont' was unexpected)"
    ]
    assert broken(f"{task}.name", REMOVED) == [f"{task}: 'name' is a required property"]
    assert broken(f"{task}.dependencies", "ingest") == [
        f"{task}.dependencies: 'ingest' is not of type 'array'"
    ]
    assert broken(f"{step}.container.image", REMOVED) == [
        f"{step}.container: 'image' is a required property"
    ]
    assert broken("spec", REMOVED) == ["(top level): 'spec' is a required property"]


def test_airflow_dag_file_names_every_step_and_edge(nightly: Project, tmp_path: Path) -> None:
    out = compile_pipeline("nightly", target="airflow", output=tmp_path / "dag.py", project=nightly)
    tree = ast.parse(out.read_text())
    imports = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "airflow.sdk" in imports  # Airflow 3's authoring interface
    literals = [
        ast.literal_eval(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.List | ast.Dict) and _literal(n)
    ]
    assert list(EDGES) in literals
    assert {k: v for k, v in EDGES.items() if v} in literals


def test_the_builtin_retrain_pipeline_compiles_without_configuration(
    sqlite_project: Project, tmp_path: Path
) -> None:
    dag = load_pipeline("retrain", sqlite_project.spec)
    assert dag.order() == ["train", "gate", "register"]
    out = compile_pipeline(
        "retrain", target="kfp", output=tmp_path / "r.yaml", project=sqlite_project
    )
    document = yaml.safe_load(out.read_text())
    assert document["root"]["dag"]["tasks"]["register"]["dependentTasks"] == ["gate"]
    with pytest.raises(ConfigError, match="not an orchestrator"):
        compile_pipeline("retrain", target="jenkins", output=tmp_path / "x", project=sqlite_project)


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True
