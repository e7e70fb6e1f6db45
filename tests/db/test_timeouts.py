"""API connections carry lock, statement and idle-in-transaction timeouts, direct and behind
PgBouncer; a stuck session no longer hides new events; a lock timeout is a 503, not a 500."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.engine import create_engine
from tests.fixtures.committed import (
    acting_through,
    committed_app,
    follow_up_row_locked,
    until_lock_waiters,
)
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.pgbouncer import PgBouncer, database_settings, direct, plain_engine
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements

SETTINGS = (
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
)
FEED_WAIT_SECONDS = 10
SHOW = text(
    "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
    "current_setting('idle_in_transaction_session_timeout')"
)


@pytest.fixture
def fresh(make_database: Callable[..., str]) -> str:
    """A fresh migrated database's direct URL (a fresh pool in PgBouncer, too)."""
    return direct(make_database())


@pytest.fixture(params=["direct", "pgbouncer"])
def route(request: pytest.FixtureRequest, fresh: str) -> str:
    """The fresh database, reached directly or through PgBouncer in transaction mode."""
    if request.param == "direct":
        return fresh
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    return bouncer.routed(fresh)


def _settings(url: str, **overrides: Any) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, **{**database_settings(url), **overrides})


@asynccontextmanager
async def _engine(url: str, **overrides: Any) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(url, _settings(url, **overrides))
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_api_connections_carry_the_timeouts(route: str) -> None:
    async with _engine(
        route,
        db_statement_timeout_ms=4321,
        db_lock_timeout_ms=1234,
        db_idle_in_transaction_timeout_ms=2345,
    ) as engine:
        for _ in range(3):  # each transaction, whichever server connection it gets
            async with engine.begin() as connection:
                shown = (await connection.execute(SHOW)).one()
            assert tuple(shown) == ("4321ms", "1234ms", "2345ms")


async def test_behind_pgbouncer_the_role_may_set_them_instead(
    fresh: str, pgbouncer: PgBouncer
) -> None:
    """`ALTER ROLE/DATABASE ... SET` reaches PgBouncer's server connections at login."""
    name = fresh.rsplit("/", 1)[1].split("?")[0]
    admin = plain_engine(fresh)
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for setting, value in zip(SETTINGS, ("4321ms", "1234ms", "2345ms"), strict=True):
            await connection.execute(text(f'ALTER DATABASE "{name}" SET {setting} = {value!r}'))
    await admin.dispose()
    routed = pgbouncer.routed(fresh)

    from_role: list[str] = []
    per_transaction: list[str] = []
    for role_sets_them, sent in ((True, from_role), (False, per_transaction)):
        async with _engine(
            routed,
            database_timeouts_from_role=role_sets_them,
            db_statement_timeout_ms=4321,
            db_lock_timeout_ms=1234,
            db_idle_in_transaction_timeout_ms=2345,
        ) as engine:
            with statements(engine) as seen:
                async with engine.begin() as connection:
                    shown = (await connection.execute(SHOW)).one()
            sent += seen
            assert tuple(shown) == ("4321ms", "1234ms", "2345ms")

    assert not [s for s in from_role if "set_config" in s], "the role sets them: no round trip"
    assert [s for s in per_transaction if "set_config('lock_timeout'" in s]


async def test_a_transaction_left_idle_is_ended_by_the_server(route: str) -> None:
    async with _engine(route, db_idle_in_transaction_timeout_ms=300) as engine:
        async with engine.connect() as stuck:
            await stuck.execute(text("SELECT pg_current_xact_id()"))
            await asyncio.sleep(1.0)
            with pytest.raises(DBAPIError):
                await stuck.execute(text("SELECT 1"))
        async with engine.begin() as connection:  # the pool carries on
            assert await connection.scalar(text("SELECT 1")) == 1


# A stuck session and the event feed -----------------------------------------------------------


async def _stuck(engine: AsyncEngine) -> AsyncConnection:
    """A session that opened a transaction, took a transaction id, and went quiet."""
    connection = await engine.connect()
    await connection.execute(text("SELECT pg_current_xact_id()"))
    return connection


async def _new_event(organizer: Caller) -> str:
    """Create a follow-up (one event); its id, which the event's data names."""
    created = await organizer.create("/v1/follow-ups", follow_up_body())
    return str(created["id"])


async def _feed_follow_ups(admin: Caller) -> set[str]:
    items = ok(await admin.get("/v1/events", params={"limit": 200}))["items"]
    return {str(item["data"].get("follow_up_id")) for item in items}


async def _until_listed(admin: Caller, follow_up_id: str) -> None:
    """Wait until the feed lists the follow-up's event.

    Polled: the server is shared, and any transaction running on it at that instant (another
    test run's) holds the horizon back for a moment too, which is this very problem.
    """
    async with asyncio.timeout(FEED_WAIT_SECONDS):
        while True:
            if follow_up_id in await _feed_follow_ups(admin):
                return
            await asyncio.sleep(0.05)


async def test_a_stuck_session_hid_new_events_from_every_tenant_until_the_timeout_ends_it(
    fresh: str, tmp_path: Path
) -> None:
    # Long enough that a loaded machine still makes the event and reads the feed within it.
    timeout = {"db_idle_in_transaction_timeout_ms": 3000}
    async with committed_app(fresh, tmp_path, **timeout) as app, app.client() as client:
        admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
        ada = acting_through(await admin.new_member(name="Ada"), client)

        # Before: a session without the timeout (as every API connection was) that
        # another tenant's request, or anything at all, left idle in its transaction.
        untimed = plain_engine(fresh)
        stuck = await _stuck(untimed)
        hidden = await _new_event(ada)
        await asyncio.sleep(1.5)
        assert hidden not in await _feed_follow_ups(admin), "hidden while it idles"
        await stuck.rollback()
        await stuck.close()
        await untimed.dispose()
        await _until_listed(admin, hidden)

        # Now: the same on an API connection. The server ends it after 0.8 s idle.
        assert app.database.engine is not None
        stuck = await _stuck(app.database.engine)
        try:
            later = await _new_event(ada)
            assert later not in await _feed_follow_ups(admin)
            await _until_listed(admin, later)  # the timeout ended the stuck session
            with pytest.raises(DBAPIError):
                await stuck.execute(text("SELECT 1"))
        finally:
            await stuck.close()


# A lock timeout is a 503 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeouts", "detail"),
    [
        ({"db_lock_timeout_ms": 300}, "a lock timed out"),
        ({"db_lock_timeout_ms": 10_000, "db_statement_timeout_ms": 300}, "the statement timed"),
    ],
    ids=["lock_timeout", "statement_timeout"],
)
async def test_a_lock_wait_that_times_out_is_503_and_changes_nothing(
    fresh: str, tmp_path: Path, timeouts: dict[str, int], detail: str
) -> None:
    async with committed_app(fresh, tmp_path, **timeouts) as app, app.client() as client:
        admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
        ada = acting_through(await admin.new_member(name="Ada"), client)
        bo = acting_through(await admin.new_member(name="Bo"), client)
        follow_up = await ada.create(
            "/v1/follow-ups", follow_up_body(participants=[{"associate_id": bo.subject}])
        )
        [invitation] = ok(await bo.get("/v1/invitations"))["items"]
        answer = f"/v1/invitations/{invitation['id']}/response"

        async with follow_up_row_locked(app, follow_up["id"]):
            waiting = asyncio.create_task(bo.post(answer, json={"status": "declined"}))
            await until_lock_waiters(app, 1)
            refused = await waiting

        body = assert_problem(refused, 503, "database_busy")
        assert detail in body["detail"]
        assert refused.headers["retry-after"] == "1"
        assert await app.event_count(follow_up["id"]) == 1, "only follow_up.created"
        assert ok(await bo.post(answer, json={"status": "declined"}))["status"] == "declined"
