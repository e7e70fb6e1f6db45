"""The dispatcher election: of several processes on one database, one leads; the next takes over."""

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from app.db.engine import plain_dsn
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.election import Election
from tests.fixtures.pgbouncer import database_settings, direct
from tests.webhooks.support import dispatcher_settings

SETTLE_SECONDS = 10.0
INTERVAL = 0.1


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    return make_database()


@asynccontextmanager
async def taking_part(url: str, data_dir: Path) -> AsyncIterator[Election]:
    """An election of this process's own, running until the block ends."""
    settings = dispatcher_settings(data_dir, **database_settings(url))
    election = Election(direct(url), lambda: Dispatcher(url, settings), INTERVAL)
    running = asyncio.create_task(election.run())
    try:
        yield election
    finally:
        await election.stop()
        await asyncio.wait_for(running, SETTLE_SECONDS)


async def _until(probe: Callable[[], bool | Awaitable[bool]]) -> None:
    """Poll `probe` (plain or async) until it holds, for at most SETTLE_SECONDS."""
    async with asyncio.timeout(SETTLE_SECONDS):
        while True:
            held = probe()
            if await held if inspect.isawaitable(held) else held:
                return
            await asyncio.sleep(0.02)


# Sessions that LISTEN for webhook events: one per running dispatcher.
LISTENING = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND query LIKE 'LISTEN%'
"""
# Election sessions that asked for the lock and did not get it.
LOST = """
SELECT count(*) FROM pg_stat_activity a
WHERE datname = current_database() AND application_name LIKE 'convene-election%'
  AND state = 'idle' AND query LIKE 'SELECT pg_try_advisory_lock%'
  AND NOT EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')
"""


async def _count(url: str, query: str) -> int:
    connection = await asyncpg.connect(plain_dsn(direct(url)))
    try:
        count: int = await connection.fetchval(query)
        return count
    finally:
        await connection.close()


async def _counted(url: str, query: str, expected: int) -> bool:
    return await _count(url, query) == expected


async def test_one_of_three_leads_and_another_takes_over_when_it_stops(
    url: str, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        elections = [await stack.enter_async_context(taking_part(url, tmp_path)) for _ in range(3)]
        await _until(lambda: any(e.leading for e in elections))
        await _until(lambda: _counted(url, LOST, 2))  # both others asked for it, and lost
        assert [e.leading for e in elections].count(True) == 1
        leader = next(e for e in elections if e.leading)

        await leader.stop()
        await _until(lambda: any(e.leading for e in elections if e is not leader))
        assert not leader.leading
        assert [e.leading for e in elections].count(True) == 1
        await _until(lambda: _counted(url, LISTENING, 1))  # the old dispatcher's has gone
    assert await _count(url, LISTENING) == 0
