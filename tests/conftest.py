"""Shared fixtures: projects on disk, and metadata-store URLs for SQLite and PostgreSQL.

PostgreSQL tests use FORGEML_TEST_PG_URL (default: postgres on 127.0.0.1:5432, database
'test'), each in a schema of its own that is dropped afterwards. Where no server answers,
they are skipped with a message saying how to enable them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from forgeml.project import Project
from support import (
    BUCKET,
    STARTED,
    S3Server,
    ServerProcess,
    scaled,
    snapshot,
    start_server,
    strays,
)

PG_URL = os.environ.get("FORGEML_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_reachable: bool | None = None


def _pg_available() -> bool:
    global _pg_reachable
    if _pg_reachable is None:
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _pg_reachable = True
        except Exception:
            _pg_reachable = False
    return _pg_reachable


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema."""
    if not _pg_available():
        pytest.skip(
            f"PostgreSQL is not reachable at {PG_URL}: start it, or point "
            "FORGEML_TEST_PG_URL at a server, to run the PostgreSQL tests"
        )
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata-store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'forgeml.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def project(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """An initialised project on each metadata backend, with local artifacts."""
    monkeypatch.setenv("FORGEML_DB_URL", db_url)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    found = Project.init(tmp_path / "proj", name="test")
    yield found
    found.close()


@pytest.fixture
def sqlite_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """An initialised project on the embedded defaults only."""
    monkeypatch.delenv("FORGEML_DB_URL", raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS_URL", raising=False)
    found = Project.init(tmp_path / "proj", name="test")
    yield found
    found.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        import boto3
        import s3fs  # noqa: F401  (the store needs it)
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        pytest.skip(f"S3 backend tests need moto[server], boto3 and s3fs ({e}); install '.[dev]'")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3Server(endpoint=endpoint, client=client)
    finally:
        client.close()
        server.stop()


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail a test that leaves a process running (servers, workers, their trackers)."""
    before = snapshot()
    yield
    deadline = time.monotonic() + scaled(10)
    left = strays(before)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = strays(before)
    for server in STARTED:
        server.end()
    STARTED.clear()
    described = []
    for process in left:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:200]}")
            process.kill()
            process.wait(timeout=scaled(10))
        except Exception:
            continue
    if described:
        pytest.fail("the test left processes running: " + "; ".join(described))


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    """Start ``forgeml serve`` (see support.start_server); every server it started is ended,
    with its whole process group, when the test ends."""
    started: list[ServerProcess] = []

    def start(root: Path, model: str, *args: str, **kw: object) -> ServerProcess:
        server = start_server(root, model, *args, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.end()
