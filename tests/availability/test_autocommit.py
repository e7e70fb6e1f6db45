"""Read-only endpoints (free/busy, first-free, a follow-up, the inbox) run without a
transaction around their statements, except behind PgBouncer; writes keep theirs on the same
pooled connection."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.availability.support import (
    at,
    availability,
    book,
    first_free,
    new_tenant,
    participant,
    room,
)
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


async def test_reads_run_alone_and_writes_keep_their_transaction(url: str, tmp_path: Path) -> None:
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
            shown = ok(await owner.get(f"/v1/follow-ups/{booked['id']}"))
            inbox = ok(await owner.get("/v1/invitations"))
        with in_transaction(engine) as after:
            await book(owner, at(10), at(11), resources=[shared])

    # Behind PgBouncer each transaction begins by setting its timeouts.
    written, read, after = (
        [(s, opened) for s, opened in sent if not s.startswith("SELECT set_config")]
        for sent in (written, read, after)
    )
    assert [len(c["busy"]) for c in found["calendars"]] == [1]
    assert slots[0][0] == at(10)
    assert shown["id"] == booked["id"]
    assert inbox["items"] == []  # the organizer is invited by nobody
    # The token check is sent before the write's BEGIN (read committed: it sees the same).
    assert written[0] == ("SELECT associates.name", behind_pgbouncer)
    assert all(opened for _, opened in written[1:]), written
    read_statements = [s for s, _ in read]
    # Free/busy, first free, the follow-up, the inbox: the token check and one statement each.
    assert read_statements[0::2] == ["SELECT associates.name"] * 4, read_statements
    assert read_statements[1::2] == [
        "WITH asked",
        "WITH known",
        "SELECT shown.owner_id,",
        "SELECT participants.id,",
    ], read_statements
    assert all(opened is behind_pgbouncer for _, opened in read), read
    assert after[0] == ("SELECT associates.name", behind_pgbouncer)
    assert all(opened for _, opened in after[1:]), after


async def test_an_answer_is_one_statement_alone_unless_it_keeps_an_idempotent_answer(
    url: str, tmp_path: Path
) -> None:
    behind_pgbouncer = bool(database_settings(url))
    async with (
        committed_app(url, tmp_path, db_pool_size=1, db_max_overflow=0) as committed,
        committed.client() as client,
    ):
        admin = new_tenant(client)
        owner, bo = await admin.new_member(), await admin.new_member()
        booked = await book(owner, at(9), at(10), invite=[bo])
        invitation = participant(booked, associate_id=bo.subject)["id"]
        answer = f"/v1/invitations/{invitation}/response"
        engine = committed.database.engine
        assert engine is not None

        with in_transaction(engine) as alone:
            ok(await bo.post(answer, json={"status": "accepted"}))
        with in_transaction(engine) as keyed:
            response = await bo.post(
                answer, json={"status": "declined"}, headers={"Idempotency-Key": "a-1"}
            )
            ok(response)

    alone, keyed = (
        [(s, opened) for s, opened in sent if not s.startswith("SELECT set_config")]
        for sent in (alone, keyed)
    )
    # On its own the answer's statement commits itself; behind PgBouncer it has a transaction.
    assert alone == [
        ("SELECT associates.name", behind_pgbouncer),
        ("WITH locked", behind_pgbouncer),
    ]
    # The kept answer commits with the change: BEGIN before the answer, as for every write.
    assert [s for s, _ in keyed] == ["SELECT (SELECT", "WITH locked", "INSERT INTO"]
    assert all(opened for _, opened in keyed[1:]), keyed
