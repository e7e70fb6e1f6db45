"""The test harness: a real PostgreSQL, migrated by Alembic, one rolled-back transaction per test.

CONVENE_TEST_DATABASE_URL names a server to use; without it each test process (`-n auto` runs
pytest-xdist workers) starts an embedded one. Either way each process gets a throwaway database
of its own, dropped at the end. With CONVENE_TEST_PGBOUNCER=true the tests reach their databases
through PgBouncer in transaction pooling mode (started here, in front of that server); databases
are made and migrated directly.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.embedded import EmbeddedPostgres, create_database_if_missing, drop_database
from app.db.engine import Database
from app.db.migrations import upgrade
from app.main import create_app
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.pgbouncer import PgBouncer, plain_engine, running_pgbouncer

# Every request checks its member in the directory, as a first request does: the statement
# counts pinned across the suite count that round trip. tests/auth/test_active_members.py
# turns the remembering on.
os.environ.setdefault("CONVENE_MEMBER_CACHE_SECONDS", "0")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per usable core, at most 4 (each has its own database, or server)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: the configured one, else an embedded one for this run."""
    configured = os.environ.get("CONVENE_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pgdata")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pgbouncer(server_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in transaction pooling mode in front of the test server."""
    with running_pgbouncer(server_url) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def make_database(server_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """A factory of fresh, migrated databases on the test server; all dropped at the end.

    The URL it returns goes through PgBouncer when CONVENE_TEST_PGBOUNCER is set.
    """
    names: list[str] = []
    bouncer: PgBouncer | None = None
    if os.environ.get("CONVENE_TEST_PGBOUNCER", "").lower() in ("1", "true", "yes"):
        bouncer = request.getfixturevalue("pgbouncer")

    def make(migrate: bool = True) -> str:
        name = f"convene_test_{uuid.uuid4().hex[:12]}"
        names.append(name)
        url = asyncio.run(create_database_if_missing(server_url, name))
        if migrate:
            upgrade(url)
        return bouncer.routed(url) if bouncer is not None else url

    yield make
    for name in names:
        asyncio.run(drop_database(server_url, name))


@pytest.fixture(scope="session")
def database_url(make_database: Callable[..., str]) -> str:
    """The migrated database the in-process tests share, each inside its own transaction."""
    return make_database()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = plain_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose transaction is rolled back after the test: nothing persists."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None)


@pytest.fixture
def app(settings: Settings, connection: AsyncConnection) -> FastAPI:
    app = create_app(settings)
    app.state.database = Database.from_connection(connection)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        yield client


@pytest.fixture
def tenant() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def admin(client: httpx.AsyncClient, tenant: uuid.UUID) -> Caller:
    """An admin service account of the test's tenant."""
    return Caller(client, tenant, subject="provisioning", admin=True)


@pytest.fixture
def other_admin(client: httpx.AsyncClient) -> Caller:
    """An admin of another tenant."""
    return Caller(client, uuid.uuid4(), subject="intruder", admin=True)


@pytest.fixture
async def member(admin: Caller) -> Caller:
    """An associate of the test's tenant, without the admin scope."""
    return await admin.new_member()
