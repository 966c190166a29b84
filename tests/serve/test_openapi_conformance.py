"""The server's OpenAPI document is true: schemathesis against a live server finds no 5xx and
no status code, content type, header or body that the document does not declare."""

from __future__ import annotations

from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from forgeml.project import Project
from forgeml.serve.app import ServeOptions
from serve.serving import live_server, register
from support import scaled

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Cases per operation (half valid, half invalid by the document); the rest get FEW each.
OPEN = {"POST /predict": 300, "POST /feedback": 150}
KEYED = {"POST /predict": 100, "POST /feedback": 50}
FEW = 30


@pytest.mark.slow
@pytest.mark.parametrize("keys", [False, True], ids=["open", "keyed"])
def test_schemathesis_finds_no_5xx_and_no_undeclared_response(
    sqlite_project: Project, keys: bool
) -> None:
    register(sqlite_project)
    options = ServeOptions(
        api_key="api-secret" if keys else None,
        admin_key="admin-secret" if keys else None,
        freeze_gc=False,
        reload_interval=0.5,
    )
    budget = KEYED if keys else OPEN
    with live_server(sqlite_project, options=options) as (_, client):
        base = f"http://127.0.0.1:{client.port}"
        keyed = {"x-api-key": "api-secret", "x-admin-key": "admin-secret"} if keys else {}
        document = requests.get(f"{base}/openapi.json", headers=keyed, timeout=scaled(30))
        schema = schemathesis.openapi.from_dict(document.json())
        session = requests.Session()
        seen: Counter[str] = Counter()
        failures: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            name = f"{operation.method.upper()} {operation.path}"
            cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
                GenerationMode.NEGATIVE
            )

            @settings(
                max_examples=budget.get(name, FEW),
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=cases, send_key=st.integers(0, 9))
            def run(case: schemathesis.Case, send_key: int) -> None:
                sent = keyed if send_key else {}  # one case in ten goes without the keys
                response = case.call(base_url=base, session=session, headers=sent, timeout=60)
                seen[f"{case.method} {case.path} {response.status_code}"] += 1
                try:
                    case.validate_response(response, checks=CHECKS, headers=sent)
                except FailureGroup as failure:  # collected: every finding is reported at the end
                    failures.append(
                        f"{case.method} {case.path} -> {response.status_code}: {failure}"
                    )

            run()
        session.close()
    assert sum(seen.values()) >= sum(budget.values()), seen
    assert not failures, "\n".join(failures[:10])
    statuses = {k.rsplit(" ", 1)[0]: k.rsplit(" ", 1)[1] for k in seen}
    assert statuses.keys() >= {"POST /predict", "POST /feedback", "GET /model", "GET /docs"}
    assert any(k.startswith("POST /predict 200") for k in seen), seen
