"""The Airflow provider in a real Airflow 3 (a cached venv under .venvs/, with forgeml's
tree first on its path): operators run with ``execute(context={})`` on the connection
``AIRFLOW_CONN_FORGEML_DEFAULT``, and the compiled example DAG passes ``dag.test()`` over
SQLite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from forgeml.pipeline.compile import compile_pipeline
from forgeml.project import Project
from toolvenvs import ROOT, tool_python

pytestmark = pytest.mark.slow

EXAMPLE = ROOT / "examples" / "pipeline"

OPERATORS = """
import json, os, sys
from pathlib import Path
from airflow.sdk.exceptions import AirflowFailException
from forgeml.integrations.airflow import get_provider_info
from forgeml.integrations.airflow.hooks import ForgemlHook
from forgeml.integrations.airflow.operators import (
    ForgemlGateOperator, ForgemlIngestOperator, ForgemlMonitorOperator,
    ForgemlPredictOperator, ForgemlPromoteOperator, ForgemlRetrainOperator,
    ForgemlTrainOperator)
from importlib.metadata import entry_points

root = Path(sys.argv[1])
out = {"provider": [e.value for e in entry_points(group="apache_airflow_provider")
                    if e.value.startswith("forgeml")]}
out["connection_types"] = [c["connection-type"] for c in get_provider_info()["connection-types"]]
project = ForgemlHook().get_project()
out["db_url"] = project.settings.db_url
out["ingest"] = ForgemlIngestOperator(
    task_id="i", source=str(root / "data/credit.csv"), dataset="credit").execute(context={})
out["train"] = ForgemlTrainOperator(task_id="t", trials=2).execute(context={})
out["gate"] = ForgemlGateOperator(task_id="g", model="credit@1").execute(context={})
out["promote"] = ForgemlPromoteOperator(
    task_id="p", model="credit@1", alias="stable", reason="test").execute(context={})
out["predict"] = ForgemlPredictOperator(
    task_id="s", model="credit@stable", input_path=str(root / "data/new.csv"),
    output_path=str(root / "scores.parquet")).execute(context={})
out["monitor"] = ForgemlMonitorOperator(task_id="m", model="credit").execute(context={})
ForgemlPromoteOperator(
    task_id="c", model="credit@1", alias="champion", reason="test").execute(context={})
out["retrain"] = ForgemlRetrainOperator(task_id="r", model="credit").execute(context={})
spec = root / "forgeml.yaml"
spec.write_text(spec.read_text() + "\\ngate:\\n  metrics: {roc_auc: {min: 0.999}}\\n")
try:
    ForgemlGateOperator(task_id="g2", model="credit@1").execute(context={})
    out["strict_gate"] = "passed"
except AirflowFailException as error:
    out["strict_gate"] = str(error)
print("RESULT " + json.dumps(out))
"""

DAG_TEST = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("compiled", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dag.test()
print("RESULT " + json.dumps({"state": str(run.state),
      "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
      "xcom": {ti.task_id: ti.xcom_pull(task_ids=ti.task_id)
               for ti in run.get_task_instances()}}, default=str))
"""


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    return tool_python("airflow", ["apache-airflow>=3.0,<4", str(ROOT)])


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORGEML_", "AIRFLOW"))}
    env.update(
        PYTHONPATH=str(ROOT / "src"),  # the tree under test wins over the installed copy
        AIRFLOW_HOME=str(tmp / "airflow"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp / 'airflow' / 'airflow.db'}",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(tmp / "dags"),
        OMP_NUM_THREADS="1",
    )
    env.update(extra)
    return env


def _result(python: Path, code: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [str(python), "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (done.stdout[-3000:], done.stderr[-3000:])
    return dict(json.loads(lines[-1][len("RESULT ") :]))


def test_operators_run_on_the_forgeml_connection(airflow_python: Path, tmp_path: Path) -> None:
    root = tmp_path / "credit"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("out", ".forgeml"))
    Project.init(root).close()
    connection = {
        "conn_type": "forgeml",
        "extra": {
            "project": str(root),
            "db_url": f"sqlite:///{tmp_path / 'shared.db'}",
            "artifacts_url": str(tmp_path / "shared-artifacts"),
        },
    }
    env = _env(tmp_path, AIRFLOW_CONN_FORGEML_DEFAULT=json.dumps(connection))
    found = _result(airflow_python, OPERATORS, [str(root)], env)
    assert found["provider"] == ["forgeml.integrations.airflow:get_provider_info"]
    assert found["connection_types"] == ["forgeml"]
    assert found["db_url"] == connection["extra"]["db_url"]  # the connection's store is used
    assert (tmp_path / "shared.db").is_file() and (tmp_path / "shared-artifacts").is_dir()
    assert found["ingest"] == {"dataset": "credit@1", "rows": 480, "created": True}
    train = found["train"]
    assert isinstance(train, dict) and train["model"] == "credit@1" and train["gate_passed"]
    gate = found["gate"]
    assert isinstance(gate, dict) and gate["passed"] and 0.5 < gate["metrics"]["roc_auc"] <= 1
    assert found["promote"] == {"model": "credit@1", "alias": "stable"}
    predict = found["predict"]
    assert isinstance(predict, dict) and predict["rows"] == 120
    assert (root / "scores.parquet").is_file()
    monitor = found["monitor"]
    assert isinstance(monitor, dict) and monitor["model"] == "credit@1"
    assert "credit@1 failed its gate: roc_auc" in str(found["strict_gate"])
    retrain = found["retrain"]  # a champion, and no labelled predictions yet: nothing to learn
    assert isinstance(retrain, dict) and retrain["status"] == "kept", retrain


def test_the_compiled_example_dag_passes_dag_test(airflow_python: Path, tmp_path: Path) -> None:
    root = tmp_path / "credit"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("out", ".forgeml"))
    with Project.init(root) as project:
        dag_file = compile_pipeline(
            "nightly", target="airflow", output=tmp_path / "dags" / "nightly.py", project=project
        )
    env = _env(tmp_path, FORGEML_PROJECT=str(root))
    migrate = subprocess.run(
        [str(airflow_python.parent / "airflow"), "db", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    found = _result(airflow_python, DAG_TEST, [str(dag_file)], env)
    assert found["state"] == "success"
    assert found["tasks"] == dict.fromkeys(
        ["gate", "ingest", "register", "score", "summary", "train", "validate"], "success"
    )
    assert (root / "out" / "scores.parquet").is_file()
    xcom = found["xcom"]  # each step's outputs, pushed for downstream tasks
    assert isinstance(xcom, dict) and set(xcom) == set(found["tasks"]), xcom
    assert xcom["ingest"]["dataset"] == "credit@1" and xcom["ingest"]["rows"] == 480
    assert xcom["register"] == {"model": "credit@1", "promoted": True}
    assert xcom["score"]["rows"] == 120 and xcom["score"]["rejected"] == 0
    with Project.load(root) as project:
        from forgeml.store import pipelines as queries

        with project.store.read() as session:
            steps = {s.step for r in queries.latest_runs(session, "nightly") for s in r.steps}
    assert steps == {"ingest", "validate", "train", "gate", "register", "score", "summary"}
