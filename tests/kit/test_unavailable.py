"""A database that cannot be reached is a 503 problem with Retry-After, never a 500."""

import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.db.engine import Database, create_engine
from app.main import create_app
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def unreachable(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose database refuses connections."""
    app: FastAPI = create_app(settings)
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/convene"
    database = Database.from_engine(create_engine(url, settings))
    app.state.database = database
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
            yield client
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("as_admin", "method", "path", "body"),
    [
        (True, "POST", "/v1/resources", {"name": "Fjord", "kind": "room"}),
        (False, "GET", "/v1/notifications", None),
    ],
    ids=["an admin's keyed write", "a member's read"],
)
async def test_an_unreachable_database_is_503(
    unreachable: httpx.AsyncClient, as_admin: bool, method: str, path: str, body: object
) -> None:
    caller = Caller(unreachable, uuid.uuid4(), subject="provisioning", admin=True)
    if not as_admin:
        caller = Caller(unreachable, caller.tenant_id, subject=str(uuid.uuid4()))

    response = await caller.request(method, path, json=body, headers={"Idempotency-Key": "k1"})

    assert_problem(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
