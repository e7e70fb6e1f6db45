"""The API pool replaces a connection the server closed, without a round trip per checkout."""

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db.engine import create_engine
from tests.fixtures.factories import TEST_SECRET
from tests.fixtures.pgbouncer import database_settings, direct, plain_engine
from tests.fixtures.statements import statements

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    """A fresh database's direct URL (the test ends one of its sessions)."""
    return direct(make_database())


async def test_a_connection_the_server_ended_is_replaced_on_checkout(url: str) -> None:
    engine = create_engine(url, Settings(jwt_secret=TEST_SECRET, **database_settings(url)))
    admin = plain_engine(url)
    try:
        async with engine.begin() as connection:
            pid = await connection.scalar(BACKEND)
        with statements(engine) as reused:
            async with engine.begin() as connection:
                assert await connection.scalar(BACKEND) == pid
        assert reused == ["SELECT pg_backend_pid()"], "the pooled connection is reused"

        async with admin.connect() as other:
            assert await other.scalar(text(f"SELECT pg_terminate_backend({int(pid)})"))
        await asyncio.sleep(0.3)  # the pooled connection reads the server's goodbye meanwhile

        async with engine.begin() as connection:
            replaced = await connection.scalar(BACKEND)
        assert replaced != pid
    finally:
        await engine.dispose()
        await admin.dispose()
