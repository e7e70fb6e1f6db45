"""Group free/busy of many calendars in two halves: the bytes one statement writes, both halves
at once on two connections when the pool has a second one free, one after the other if not."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.availability import schemas, service
from app.availability.halves import SPLIT_AT, common_free, halves
from tests.availability.support import at, book, iso, new_tenant, room, utc
from tests.fixtures.committed import committed_app, committed_url  # noqa: F401 (fixture)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements

# Window edges with microseconds: the free time starts and ends on them.
START = at(7) + timedelta(microseconds=250)
END = at(18) - timedelta(seconds=1, microseconds=500_000)


async def crowd(admin: Caller) -> tuple[list[Caller], list[Any]]:
    """SPLIT_AT colleagues and three rooms booked over one day; the query params for them all.

    Each colleague organizes a meeting with the next one and a room, so the blocks overlap
    across calendars (merged for a stranger, one by one with ids for those who take part) and
    the day's free time comes in several pieces. The params ask the colleagues in a shuffled
    order, one of them twice and one of them also as a resource, then the rooms.
    """
    people = [await admin.new_member(name=f"Colleague {i}") for i in range(SPLIT_AT)]
    rooms = [await room(admin, name=f"Room {i}") for i in range(3)]
    for i, person in enumerate(people):
        hour = 8 + 3 * (i % 3)
        await book(
            person,
            at(hour, 15 * (i % 4)),
            at(hour + 1, 30),
            invite=[people[(i + 1) % len(people)]],
            resources=[rooms[i % 3]],
        )
    order = [*people[1::2], *people[::2], people[3]]
    params = [
        *(("associate_ids", p.subject) for p in order),
        *(("resource_ids", r) for r in [rooms[2], people[5].subject, rooms[0], rooms[1]]),
        ("start", iso(START)),
        ("end", iso(END)),
    ]
    return people, params


def heads(sent: list[str]) -> list[str]:
    return [" ".join(s.split()[:2]) for s in sent]


async def test_many_calendars_answer_in_halves_what_one_statement_writes(
    admin: Caller, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    people, params = await crowd(admin)
    stranger = await admin.new_member()

    for viewer in (stranger, people[4]):
        with statements(engine) as sent:
            halved = await viewer.get("/v1/availability", params=params)
        with monkeypatch.context() as patched:
            patched.setattr(service, "SPLIT_AT", schemas.MAX_CALENDARS + 1)
            with statements(engine) as sent_once:
                whole = await viewer.get("/v1/availability", params=params)

        ok(halved)
        assert halved.content == whole.content
        # The tests' session is one connection: the halves run on it one after the other.
        assert heads(sent) == ["SELECT associates.name", "WITH asked", "WITH asked"]
        assert heads(sent_once) == ["SELECT associates.name", "WITH asked"]
        found = schemas.Availability.model_validate_json(halved.content)
        assert halved.content == found.__pydantic_serializer__.to_json(found)
        assert len(found.calendars) == SPLIT_AT + 3
        assert [c.id for c in found.calendars][:2] == [
            uuid.UUID(people[1].subject),
            uuid.UUID(people[3].subject),
        ]
        assert [(f.start_at, f.end_at) for f in found.free] == [
            (START, at(8)),
            (at(9, 30), at(11)),
            (at(12, 30), at(14)),
            (at(15, 30), END),
        ]
        ids = {b.follow_up_id for c in found.calendars for b in c.busy}
        assert (ids == {None}) is (viewer is stranger)


async def test_an_unknown_calendar_in_either_half_is_refused(admin: Caller) -> None:
    people = [await admin.new_member() for _ in range(SPLIT_AT)]
    first, last = uuid.uuid4(), uuid.uuid4()
    asked = [str(first), *(p.subject for p in people), str(last)]

    response = await people[0].get(
        "/v1/availability",
        params=[*(("associate_ids", a) for a in asked), ("start", iso(at(8))), ("end", iso(at(9)))],
    )

    problem = ok(response, 404)
    assert problem["detail"] == f"calendar not found: {first}, {last}"


@contextmanager
def free_busy_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, int]]]:
    """("sent" or "done", the server pid) of each free/busy statement, in the order they occur."""
    seen: list[tuple[str, int]] = []

    def recorder(what: str) -> Callable[..., None]:
        def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().startswith("WITH asked"):
                seen.append((what, conn.connection.driver_connection.get_server_pid()))

        return record

    sent, done = recorder("sent"), recorder("done")
    event.listen(engine.sync_engine, "before_cursor_execute", sent)
    event.listen(engine.sync_engine, "after_cursor_execute", done)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", sent)
        event.remove(engine.sync_engine, "after_cursor_execute", done)


@pytest.mark.parametrize(
    ("pool_size", "at_once"), [(4, True), (1, False)], ids=["pool-of-4", "pool-of-1"]
)
async def test_halves_run_at_once_when_the_pool_has_a_second_connection(
    committed_url: str, tmp_path: Path, pool_size: int, at_once: bool
) -> None:
    async with (
        committed_app(
            committed_url, tmp_path, db_pool_size=pool_size, db_max_overflow=0
        ) as committed,
        committed.client() as client,
    ):
        people, params = await crowd(new_tenant(client))
        engine = committed.database.engine
        assert engine is not None

        with free_busy_statements(engine) as seen:
            halved = await people[0].get("/v1/availability", params=params)
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(service, "SPLIT_AT", schemas.MAX_CALENDARS + 1)
            whole = await people[0].get("/v1/availability", params=params)

    ok(halved)
    assert halved.content == whole.content
    pids = [pid for _, pid in seen]
    if at_once:
        # Both were sent before either was done, each on its own connection.
        assert [what for what, _ in seen] == ["sent", "sent", "done", "done"]
        assert len(set(pids)) == 2
    else:
        # No connection to spare: the request does not wait for one, it asks in turn.
        assert [what for what, _ in seen] == ["sent", "done", "sent", "done"]
        assert len(set(pids)) == 1


def test_halves_cut_the_answers_order_and_keep_an_id_asked_as_both() -> None:
    a, b, c, d, e = (uuid.UUID(int=i) for i in range(1, 6))

    assert halves([a, b, a, c], [d, b, e]) == (([a, b], [b]), ([c], [d, e]))
    assert halves([a], [b, c, d]) == (([a], [b]), ([], [c, d]))


def test_common_free_is_where_both_are_free() -> None:
    def t(hour: int, minute: int = 0) -> Any:
        return utc(f"2026-05-04T{hour:02}:{minute:02}")

    one = [(t(8), t(10)), (t(11), t(12)), (t(13), t(17))]
    other = [(t(9), t(11)), (t(11, 30), t(14)), (t(15), t(16)), (t(16, 30), t(18))]

    assert common_free(one, other) == [
        (t(9), t(10)),
        (t(11, 30), t(12)),
        (t(13), t(14)),
        (t(15), t(16)),
        (t(16, 30), t(17)),
    ]
    assert common_free(one, []) == []
    assert common_free(one, one) == one
