"""Promote, roll back and roll out from the UI: the key and a confirmation are required,
and each action lands in the store's audit trail like the CLI's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from forgeml.project import Project
from forgeml.registry import history, model_version
from forgeml.serve.rollout import active_rollout
from forgeml.ui.app import UIApp
from ui.client import UIClient

KEY = "s3cret-key"
Built = tuple[Project, dict[str, Any]]


@pytest.fixture(scope="module")
def client(built: Built) -> Iterator[UIClient]:
    project, _ = built
    ui = UIClient(UIApp(project, admin_key=KEY))
    yield ui
    ui.close()


def _champion(project: Project) -> int:
    return model_version("credit@champion", project=project).version


def _form(**extra: str) -> dict[str, str]:
    return {"version": "2", "reason": "better auc", "admin_key": KEY, "confirm": "yes", **extra}


def test_actions_without_the_key_or_confirmation_change_nothing(
    client: UIClient, built: Built
) -> None:
    project, _ = built
    moves = len(history("credit", project=project))
    for form, status in [
        (_form(admin_key=""), 401),
        (_form(admin_key="wrong"), 401),
        ({k: v for k, v in _form().items() if k != "admin_key"}, 401),
        (_form(confirm=""), 400),
    ]:
        got, page, _ = client.post("/models/credit/actions/promote", form)
        assert got == status, (form, page[:300])
    got, page, _ = client.post(
        "/models/credit/actions/promote", _form(), headers={"origin": "https://evil.example"}
    )
    assert got == 403 and "another site" in page
    assert client.get("/models/credit/actions/promote")[0] == 405
    assert _champion(project) == 1
    assert len(history("credit", project=project)) == moves


def test_a_ui_without_a_key_refuses_every_action(built: Built) -> None:
    project, _ = built
    keyless = UIClient(UIApp(project, admin_key=None))
    try:
        _, page, _ = keyless.get("/models/credit")
        assert 'id="actions-off"' in page and "promote-form" not in page
        for action in ("promote", "rollback", "rollout-start", "rollout-stop"):
            status, page, _ = keyless.post(f"/models/credit/actions/{action}", _form())
            assert status == 403 and "FORGEML_ADMIN_KEY" in page
    finally:
        keyless.close()
    assert _champion(project) == 1


def test_promote_rollout_and_rollback_are_audited(client: UIClient, built: Built) -> None:
    project, _ = built
    status, _, headers = client.post("/models/credit/actions/rollout-start", _form(mode="shadow"))
    assert status == 303, headers
    rollout = active_rollout(project, "credit")
    assert rollout is not None and rollout.mode == "shadow"
    status, _, _ = client.post("/models/credit/actions/rollout-stop", _form(reason="enough"))
    assert status == 303 and active_rollout(project, "credit") is None

    status, _, headers = client.post("/models/credit/actions/promote", _form())
    assert status == 303 and headers["location"].startswith("/models/credit?done=")
    assert _champion(project) == 2
    event = history("credit", project=project)[0]
    assert (event.action, event.to_version, event.reason) == ("promote", 2, "better auc")
    assert event.actor.startswith("web-ui:")
    _, page, _ = client.get(headers["location"])
    assert "champion is now on version 2" in page and "better auc" in page

    status, _, _ = client.post("/models/credit/actions/rollback", _form(reason="worse live"))
    assert status == 303 and _champion(project) == 1
    assert history("credit", project=project)[0].action == "rollback"


def test_bad_action_input_is_refused_clearly(client: UIClient, built: Built) -> None:
    project, _ = built
    status, page, _ = client.post("/models/credit/actions/promote", _form(version="x"))
    assert status == 422 and "version number" in page
    status, page, _ = client.post("/models/credit/actions/promote", _form(reason=" "))
    assert status == 422 and "reason" in page
    status, page, _ = client.post("/models/credit/actions/promote", _form(version="99"))
    assert status == 404 and "no version 99" in page
    status, page, _ = client.post("/models/credit/actions/explode", _form())
    assert status == 404
    assert _champion(project) == 1
