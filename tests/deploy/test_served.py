"""``forgeml serve --model-dir``: the same app and checks, no project, optional local log."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deploy.models import forgeml_scores, rows
from forgeml.deploy.modeldir import write_model_dir
from forgeml.errors import ConfigError
from forgeml.project import Project
from forgeml.serve.logreader import read_predictions
from forgeml.serve.server import ServeSettings, build_app
from serve.asgi import InProcessClient
from support import ServerProcess, launch_server, scaled


@pytest.fixture(scope="module")
def credit_dir(deploy_project: Project, exports: Path) -> Path:
    return write_model_dir("credit@1", exports / "credit", project=deploy_project).path


def test_in_process_server_answers_like_forgeml(deploy_project: Project, credit_dir: Path) -> None:
    app = build_app(ServeSettings(model_dir=str(credit_dir)))
    client = InProcessClient(app)
    try:
        status, body, _ = client.get("/ready")
        assert (status, body["model"], body["version"]) == (200, "credit", 1)
        records = rows(5)
        status, body, _ = client.post("/predict", {"records": records})
        assert status == 200, body
        scores = body["scores"]
        expected = forgeml_scores(deploy_project, "credit@1", records)[:, 1]
        assert np.allclose(scores, expected, atol=1e-9)
        status, body, _ = client.post("/feedback", {"request_id": "x", "label": True})
        assert status == 409 and "no prediction log" in body["error"]
        status, body, _ = client.post("/predict", {"income": "lots"})
        assert status == 422
    finally:
        app.stop()
        client.close()


def test_predictions_are_logged_to_a_folder(credit_dir: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    app = build_app(ServeSettings(model_dir=str(credit_dir), log_dir=str(logs)))
    client = InProcessClient(app)
    app.start()
    try:
        status, _, _ = client.post("/predict", {"records": rows(3)})
        assert status == 200
    finally:
        app.stop()  # flushes the log
        client.close()
    with Project.load(logs) as project:
        table = read_predictions(project, "credit")
    assert table.num_rows == 3
    assert set(table.column("version").to_pylist()) == {1}


def _env() -> dict[str, str]:
    """This environment without a project, its import path absolute (servers run elsewhere)."""
    env = {k: v for k, v in os.environ.items() if k != "FORGEML_PROJECT"}
    if env.get("PYTHONPATH"):
        paths = env["PYTHONPATH"].split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(str(Path(p).resolve()) for p in paths if p)
    return env


def _start(
    args: list[str], cwd: Path, extra_env: dict[str, str] | None = None
) -> tuple[ServerProcess, str]:
    """``forgeml serve ARGS`` run in ``cwd`` without a project; the server and what it printed."""
    server = launch_server(args, cwd, env={**_env(), **(extra_env or {})}, cwd=cwd)
    return server, server.stdout()


def test_cli_serves_a_model_directory_without_a_project(credit_dir: Path, tmp_path: Path) -> None:
    server, printed = _start(["--model-dir", str(credit_dir)], tmp_path)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=scaled(30))
        connection.request(
            "POST", "/predict", json.dumps(rows(1)[0]), {"content-type": "application/json"}
        )
        reply = connection.getresponse()
        body = json.loads(reply.read())
        connection.close()
        assert reply.status == 200, body
        assert body["predictions"] in ([True], [False])
        assert 0.0 <= body["scores"][0] <= 1.0
        assert "prediction log: off" in printed
        assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises it
    finally:
        server.end()
    assert not (tmp_path / ".forgeml").exists()  # nothing written where it ran


def test_a_sagemaker_container_serves_the_model_where_the_platform_put_it(
    credit_dir: Path, tmp_path: Path
) -> None:
    # SageMaker runs `docker run IMAGE serve` with the model unpacked under SM_MODEL_DIR;
    # two worker processes, each building its app from the settings passed to it.
    server, printed = _start(
        ["serve", "--profile", "sagemaker", "--workers", "2"],
        tmp_path,
        {"SM_MODEL_DIR": str(credit_dir)},
    )
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=scaled(30))
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=scaled(30))
        connection.request(
            "POST",
            "/invocations",
            json.dumps({"dataframe_records": rows(2)}),
            {"content-type": "application/json"},
        )
        reply = connection.getresponse()
        body = json.loads(reply.read())
        connection.close()
        assert reply.status == 200, body
        assert len(body["predictions"]) == 2
        assert str(credit_dir) in printed
    finally:
        server.end()


def test_cli_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "forgeml.cli", "serve", "--model-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(),
        timeout=scaled(120),
        check=False,
    )
    assert done.returncode != 0
    assert "has no forgeml.json" in done.stderr + done.stdout


def test_settings_must_name_one_model_to_serve(credit_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no model to serve"):
        ServeSettings(model="credit")  # no project
    with pytest.raises(ConfigError, match="both a model and a model directory"):
        ServeSettings(project=".", model="credit", model_dir=str(credit_dir))
