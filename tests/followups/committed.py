"""Apps on a committed database with a real pool, for tests that need concurrent transactions."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text

from app.config import Settings
from app.db.engine import Database, create_engine
from app.main import create_app
from app.models import Event
from tests.fixtures.factories import TEST_SECRET, Caller

LOCK_WAIT_TIMEOUT = 10.0


@dataclass
class CommittedApp:
    """An app whose requests each commit on their own pooled connection."""

    app: FastAPI
    database: Database

    @asynccontextmanager
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """One more HTTP client of the app (each request gets its own session and connection)."""
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
            yield client

    async def events(self, follow_up_id: str) -> list[tuple[str, int, dict[str, object]]]:
        """The follow-up's events as (type, seq, data), in seq order."""
        async with self.database.sessionmaker() as session:
            rows = await session.execute(
                select(Event.type, Event.seq, Event.data)
                .where(Event.follow_up_id == uuid.UUID(follow_up_id))
                .order_by(Event.seq)
            )
            return [(type_, seq, data) for type_, seq, data in rows.all() if seq is not None]

    async def event_count(self, follow_up_id: str) -> int:
        async with self.database.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).where(Event.follow_up_id == uuid.UUID(follow_up_id))
            )
            return int(count or 0)


@asynccontextmanager
async def committed_app(url: str, data_dir: Path) -> AsyncIterator[CommittedApp]:
    """An app on `url` with its own engine and pool, disposed at the end."""
    settings = Settings(jwt_secret=TEST_SECRET, data_dir=data_dir, database_url=None)
    app = create_app(settings)
    database = Database.from_engine(create_engine(url, settings))
    app.state.database = database
    try:
        yield CommittedApp(app, database)
    finally:
        await database.dispose()


def acting_through(caller: Caller, client: httpx.AsyncClient) -> Caller:
    """The same subject of the same tenant, sending its requests through another client."""
    return Caller(client, caller.tenant_id, caller.subject, caller.admin)


@asynccontextmanager
async def follow_up_row_locked(committed: CommittedApp, follow_up_id: str) -> AsyncIterator[None]:
    """Hold the follow-up's row lock in a transaction of our own until the block ends.

    The transaction only reads, and is rolled back: whoever queued behind it then proceeds.
    """
    assert committed.database.engine is not None
    async with committed.database.engine.connect() as locker:
        await locker.execute(
            text("SELECT id FROM follow_ups WHERE id = :id FOR UPDATE"),
            {"id": uuid.UUID(follow_up_id)},
        )
        try:
            yield
        finally:
            await locker.rollback()


async def until_lock_waiters(committed: CommittedApp, count: int) -> None:
    """Return once `count` backends of this database are waiting for a lock.

    Polls pg_stat_activity: this waits for a state the database reports, not for a guessed time.
    """
    assert committed.database.engine is not None
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    async with committed.database.engine.connect() as watcher:
        async with asyncio.timeout(LOCK_WAIT_TIMEOUT):
            while True:
                waiting = await watcher.scalar(query)
                await watcher.rollback()
                if waiting is not None and waiting >= count:
                    return
                await asyncio.sleep(0.005)
