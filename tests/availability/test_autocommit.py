"""Availability reads run without a transaction around their statements (not behind PgBouncer,
where each transaction sets the timeouts); other requests keep theirs on the same connection."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.availability.support import at, availability, book, first_free, new_tenant, room
from tests.fixtures.committed import committed_app
from tests.fixtures.pgbouncer import database_settings
from tests.fixtures.responses import ok


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    return make_database()


@contextmanager
def in_transaction(engine: AsyncEngine) -> Iterator[list[tuple[str, bool]]]:
    """Each statement sent (its first two words) and whether a transaction was open for it."""
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        opened = conn.connection.driver_connection.is_in_transaction()
        seen.append((" ".join(statement.split()[:2]), opened))

    event.listen(engine.sync_engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", record)


async def test_availability_reads_alone_and_writes_keep_their_transaction(
    url: str, tmp_path: Path
) -> None:
    behind_pgbouncer = bool(database_settings(url))
    # One pooled connection, so every request below reuses the one before it.
    async with (
        committed_app(url, tmp_path, db_pool_size=1, db_max_overflow=0) as committed,
        committed.client() as client,
    ):
        admin = new_tenant(client)
        owner = await admin.new_member()
        shared = await room(admin)
        engine = committed.database.engine
        assert engine is not None

        with in_transaction(engine) as written:
            booked = await book(owner, at(9), at(10), resources=[shared])
        with in_transaction(engine) as read:
            found = await availability(owner, at(8), at(12), resources=[shared])
            slots = await first_free(owner, resources=[shared], after=at(9), before=at(12))
        with in_transaction(engine) as after:
            ok(await owner.get(f"/v1/follow-ups/{booked['id']}"))

    assert [len(c["busy"]) for c in found["calendars"]] == [1]
    assert slots[0][0] == at(10)
    assert written
    assert all(opened for _, opened in written), written
    read_statements = [s for s, _ in read if not s.startswith("SELECT set_config")]
    assert read_statements == [
        *("SELECT associates.name", "WITH asked"),
        *("SELECT associates.name", "SELECT id,", "WITH busy"),
    ]
    assert all(opened is behind_pgbouncer for _, opened in read), read
    assert after
    assert all(opened for _, opened in after), after
