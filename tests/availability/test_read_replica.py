"""CONVENE_DATABASE_READ_URL: free/busy and first-free read it; bookings check the primary.

The "replica" is a copy of the primary made before a booking, so it lags by that booking:
what the availability endpoints show proves which database they read.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db.embedded import drop_database
from app.db.engine import plain_dsn
from app.main import create_app
from tests.availability.support import (
    at,
    availability,
    book,
    first_free,
    new_tenant,
    room,
    when,
)
from tests.fixtures.committed import acting_through, committed_app
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.pgbouncer import direct
from tests.fixtures.problems import assert_problem


@pytest.fixture
def primary_url(make_database: Callable[..., str]) -> str:
    # Direct: a copy needs its template without sessions, which a pooler would keep open.
    return direct(make_database())


@pytest.fixture
async def lagging_copy(
    primary_url: str, server_url: str
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes the replica: a copy of the primary as it is now (call it with no session open)."""
    name = f"{make_url(primary_url).database}_replica"

    async def copy() -> str:
        connection = await asyncpg.connect(plain_dsn(server_url))
        try:
            source = make_url(primary_url).database
            await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        finally:
            await connection.close()
        return make_url(primary_url).set(database=name).render_as_string(hide_password=False)

    yield copy
    await drop_database(server_url, name)


async def _application_names(url: str) -> set[str]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return {row[0] for row in rows}


async def test_availability_reads_the_replica_while_bookings_check_the_primary(
    primary_url: str, lagging_copy: Callable[[], Awaitable[str]], tmp_path: Path
) -> None:
    async with committed_app(primary_url, tmp_path) as committed, committed.client() as client:
        admin = new_tenant(client)
        organizer = await admin.new_member(name="Olga Organizer")
        rival = await admin.new_member(name="Rolf Rival")
        strict_room = await room(admin, strict=True, name="Boardroom")
    replica_url = await lagging_copy()

    settings = Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=primary_url,
        database_read_url=replica_url,
        webhook_dispatcher="off",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client,
    ):
        olga: Caller = acting_through(organizer, client)
        booked = await book(olga, at(10), at(11), resources=[strict_room])

        # The replica has not seen the booking yet: both reads show the room free.
        found = await availability(olga, at(8), at(18), resources=[strict_room])
        assert [c["busy"] for c in found["calendars"]] == [[]]
        slots = await first_free(olga, resources=[strict_room], after=at(10), before=at(18))
        assert slots == [(at(10), at(11))]

        # The strict room's check reads the primary: the rival is refused all the same.
        refused = await acting_through(rival, client).post(
            "/v1/follow-ups",
            json={
                "title": "Too late",
                "start_at": at(10, 30).isoformat(),
                "end_at": at(11, 30).isoformat(),
                "participants": [{"resource_id": strict_room}],
            },
        )
        problem = assert_problem(refused, 409, "resource_taken")
        assert when(problem["first_free_at"]) == at(11)
        seen = await olga.get(f"/v1/follow-ups/{booked['id']}")
        assert seen.status_code == 200

        assert "convene-read" in await _application_names(replica_url)
        assert "convene-read" not in await _application_names(primary_url)
