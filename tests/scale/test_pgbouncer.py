"""PgBouncer in transaction pooling mode: the fixture really pools per transaction, the app's
engine works through it, statements still time out, and dispatchers LISTEN on the direct URL."""

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db.engine import create_engine, plain_dsn
from tests.fixtures.committed import acting_through, committed_app
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.pgbouncer import PgBouncer, database_settings, direct
from tests.webhooks.support import RESPONSES, world

TRANSACTIONS = 400
IN_FLIGHT = 40  # clients: twice the fixture's pool of server connections, so they share them


@pytest.fixture
def url(make_database: Callable[..., str], pgbouncer: PgBouncer) -> str:
    """A fresh database (so a fresh pool in PgBouncer), reached through PgBouncer."""
    return pgbouncer.routed(direct(make_database()))


def _settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"jwt_secret": TEST_SECRET, **database_settings(url), **overrides}
    return Settings(**values)


async def test_the_fixture_pools_per_transaction(url: str) -> None:
    """A client's next transaction runs on another server connection when its last is taken."""
    first = await asyncpg.connect(plain_dsn(url), statement_cache_size=0)
    second = await asyncpg.connect(plain_dsn(url), statement_cache_size=0)
    try:
        before = await first.fetchval("SELECT pg_backend_pid()")
        async with second.transaction():
            # The only server connection of this fresh pool is idle again: `second` gets it.
            taken = await second.fetchval("SELECT pg_backend_pid()")
            after = await first.fetchval("SELECT pg_backend_pid()")
        assert taken == before
        assert after != before, "session pooling: each client keeps its server connection"
    finally:
        await first.close()
        await second.close()


async def test_the_app_engine_runs_concurrent_transactions_through_pgbouncer(url: str) -> None:
    """Many clients, many statements each: no prepared statement meets another's name."""
    settings = _settings(url, db_pool_size=IN_FLIGHT, db_max_overflow=0)
    engine = create_engine(url, settings)
    statements = [
        text("SELECT CAST(:n AS int) + 1"),
        text("SELECT count(*) FROM pg_class WHERE relname = :name"),
        text("SELECT CAST(:at AS text) || ' ' || current_setting('application_name')"),
    ]
    done = 0

    async def transaction(n: int) -> None:
        nonlocal done
        async with engine.begin() as connection:
            assert await connection.scalar(statements[0], {"n": n}) == n + 1
            await connection.scalar(statements[1], {"name": f"t{n}"})
            named = await connection.scalar(statements[2], {"at": str(n)})
            assert named == f"{n} convene"
        done += 1

    try:
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def bounded(n: int) -> None:
            async with gate:
                await transaction(n)

        await asyncio.gather(*(bounded(n) for n in range(TRANSACTIONS)))
    finally:
        await engine.dispose()
    assert done == TRANSACTIONS


async def test_a_statement_still_times_out_behind_pgbouncer(url: str) -> None:
    """PgBouncer refuses statement_timeout at connect; the client-side timeout cancels it."""
    engine = create_engine(url, _settings(url, db_statement_timeout_ms=300))
    started = time.monotonic()
    try:
        with pytest.raises((TimeoutError, DBAPIError)):
            async with engine.begin() as connection:
                await connection.execute(text("SELECT pg_sleep(10)"))
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 5
    # The statement was cancelled on the server, not left running there.
    observer = await asyncpg.connect(plain_dsn(direct(url)))
    try:
        deadline = time.monotonic() + 5
        while await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'"
        ):
            assert time.monotonic() < deadline, "the sleeping statement kept running"
            await asyncio.sleep(0.05)
    finally:
        await observer.close()


async def test_a_dispatcher_behind_pgbouncer_wakes_on_notify(url: str, tmp_path: Path) -> None:
    """With a 30 s poll, only NOTIFY, heard on the direct connection, delivers in time."""
    async with world(url, tmp_path, webhook_poll_seconds=30.0) as w:
        await w.subscribe(RESPONSES)
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitee = await w.admin.new_member(name="Ivan Invitee")
        _, ids = await w.invite(organizer, invitee)
        for n, status in enumerate(("accepted", "declined")):
            response = await invitee.post(
                f"/v1/invitations/{ids[invitee.subject]}/response", json={"status": status}
            )
            assert response.status_code == 200, response.text
            await w.receiver.wait_for(n + 1, timeout=5)


async def test_the_inbox_page_written_by_the_database_is_the_same_through_pgbouncer(
    url: str, tmp_path: Path
) -> None:
    """Outside a transaction the inbox goes through SQLAlchemy, not asyncpg: the same bytes."""
    async with (
        committed_app(url, tmp_path / "pooled") as pooled,
        committed_app(direct(url), tmp_path / "direct") as straight,
        pooled.client() as pooled_client,
        straight.client() as straight_client,
    ):
        admin = Caller(pooled_client, uuid.uuid4(), subject="provisioning", admin=True)
        organizer, bo = await admin.new_member(), await admin.new_member(name='Bo "B" Ø')
        for n in range(3):
            await organizer.create(
                "/v1/follow-ups",
                follow_up_body(title=f"Meeting {n}", participants=[{"associate_id": bo.subject}]),
            )
        first = await bo.get("/v1/invitations", params={"limit": 2})
        assert first.status_code == 200, first.text
        cursor = first.json()["next_cursor"]
        for params in (
            {"limit": 2},
            {"limit": 2, "cursor": cursor},
            {"status": "not_read", "time_zone": "Asia/Kolkata"},
            {"status": "accepted"},
        ):
            through = await bo.get("/v1/invitations", params=params)
            plain = await acting_through(bo, straight_client).get("/v1/invitations", params=params)
            assert through.status_code == plain.status_code == 200, through.text
            assert through.content == plain.content, params
        assert len(first.json()["items"]) == 2
