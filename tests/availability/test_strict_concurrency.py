"""Concurrent bookings of one room on a committed database: strict rooms admit exactly one."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.models import Booking, FollowUp
from tests.availability.support import book, iso, participant, room, utc, view, when
from tests.fixtures.committed import (  # noqa: F401 (fixtures)
    CommittedApp,
    acting_through,
    admin,
    client,
    committed,
    until_lock_waiters,
)
from tests.fixtures.factories import Caller
from tests.fixtures.pgbouncer import plain_engine
from tests.fixtures.problems import assert_problem

REQUESTS = 50
START = utc("2026-05-04T10:00")
HOUR = timedelta(hours=1)
DEADLOCK_TIMEOUT = "50ms"


async def _detect_deadlocks_fast(url: str) -> None:
    engine = plain_engine(url)
    try:
        async with engine.connect() as connection:
            name = await connection.scalar(text("SELECT current_database()"))
            await connection.execute(
                text(f'ALTER DATABASE "{name}" SET deadlock_timeout = {DEADLOCK_TIMEOUT!r}')
            )
            await connection.commit()
    except DBAPIError:
        pass  # not a superuser: the server's own deadlock_timeout applies
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    """A migrated database of this module whose requests really commit.

    Deadlocks are detected after 50 ms instead of 1 s (when the role may set that), so a
    deadlock fails these tests quickly instead of slowly; it changes no outcome.
    """
    url = make_database()
    asyncio.run(_detect_deadlocks_fast(url))
    return url


async def _count(committed: CommittedApp, *where: object) -> int:
    async with committed.database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(*where)) or 0)  # type: ignore[arg-type]


async def test_fifty_concurrent_bookings_of_a_strict_room_admit_one(
    committed: CommittedApp, admin: Caller
) -> None:
    strict_room = await room(admin, strict=True, name="Strict room")
    first = await admin.new_member(name="Olga Organizer")
    second = await admin.new_member(name="Pia Planner")
    organizers = [first if n % 2 == 0 else second for n in range(REQUESTS)]
    # Every request overlaps every other: they start a minute apart and last an hour.
    starts = [START + timedelta(minutes=n) for n in range(REQUESTS)]

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(committed.client()) for _ in range(REQUESTS)]
        responses = await asyncio.gather(
            *(
                acting_through(organizer, client).post(
                    "/v1/follow-ups",
                    json={
                        "title": f"Request {n}",
                        "start_at": iso(start),
                        "end_at": iso(start + HOUR),
                        "participants": [{"resource_id": strict_room}],
                    },
                )
                for n, (organizer, client, start) in enumerate(
                    zip(organizers, clients, starts, strict=True)
                )
            )
        )

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * (REQUESTS - 1), [
        r.text for r in responses if r.status_code >= 500
    ]
    (winner_index,) = [n for n, r in enumerate(responses) if r.status_code == 201]
    winner = responses[winner_index].json()
    winner_owner = organizers[winner_index]
    winner_start, winner_end = starts[winner_index], starts[winner_index] + HOUR
    assert participant(winner, resource_id=strict_room)["conflict"] is False
    assert winner["has_conflict"] is False

    for n, response in enumerate(responses):
        if n == winner_index:
            continue
        problem = assert_problem(response, 409, "resource_taken")
        # The loser sees the winner's id only when it organizes (so takes part in) the winner.
        seen_id = winner["id"] if organizers[n] is winner_owner else None
        (conflict,) = problem["conflicts"]
        assert conflict == {
            "resource_id": strict_room,
            "start_at": conflict["start_at"],
            "end_at": conflict["end_at"],
            "follow_up_id": seen_id,
        }, problem
        assert (when(conflict["start_at"]), when(conflict["end_at"])) == (winner_start, winner_end)
        # Room and organizer are free for an hour from the winner's end, not before:
        # every loser starts less than an hour before the winner ends.
        assert when(problem["first_free_at"]) == winner_end, (n, problem)

    room_id = uuid.UUID(strict_room)
    assert await _count(committed, Booking.calendar_id == room_id) == 1
    assert await _count(committed, FollowUp.tenant_id == admin.tenant_id) == 1
    stored = await view(winner_owner, winner["id"])
    assert stored["title"] == winner["title"]


async def test_two_concurrent_bookings_of_a_shared_room_both_conflict(
    committed: CommittedApp, admin: Caller
) -> None:
    shared_room = await room(admin, name="Shared room")
    first = await admin.new_member(name="Olga Organizer")
    second = await admin.new_member(name="Pia Planner")

    async with committed.client() as one, committed.client() as two:
        created = await asyncio.gather(
            book(acting_through(first, one), START, START + HOUR, resources=[shared_room]),
            book(
                acting_through(second, two),
                START + timedelta(minutes=30),
                START + timedelta(minutes=90),
                resources=[shared_room],
            ),
        )

    for organizer, follow_up in zip((first, second), created, strict=True):
        stored = await view(organizer, follow_up["id"])
        assert stored["has_conflict"] is True
        assert participant(stored, resource_id=shared_room)["conflict"] is True
        assert participant(stored, associate_id=organizer.subject)["conflict"] is False
    assert await _count(committed, Booking.calendar_id == uuid.UUID(shared_room)) == 2


@asynccontextmanager
async def _room_row_locked(committed: CommittedApp, room_id: str) -> AsyncIterator[None]:
    """Hold the room's row lock in a read-only transaction of our own until the block ends."""
    assert committed.database.engine is not None
    async with committed.database.engine.connect() as locker:
        await locker.execute(
            text("SELECT id FROM resources WHERE id = :id FOR UPDATE"), {"id": uuid.UUID(room_id)}
        )
        try:
            yield
        finally:
            await locker.rollback()


async def test_two_bookings_queued_on_a_strict_room_give_201_and_409(
    committed: CommittedApp, admin: Caller
) -> None:
    """Two bookings that both inserted their room participant before either checks the room.

    Our transaction holds the room's row: both requests queue at the participant's foreign
    key check, and both pass it together once we let go. Then exactly one may book the room;
    the other must get 409 `resource_taken`, not a deadlock (500).
    """
    strict_room = await room(admin, strict=True, name="Strict room")
    organizer = await admin.new_member(name="Olga Organizer")
    body = {
        "title": "Queued",
        "start_at": iso(START),
        "end_at": iso(START + HOUR),
        "participants": [{"resource_id": strict_room}],
    }

    async with committed.client() as one, committed.client() as two:
        async with _room_row_locked(committed, strict_room):
            tasks = [
                asyncio.create_task(
                    acting_through(organizer, client).post("/v1/follow-ups", json=body)
                )
                for client in (one, two)
            ]
            await until_lock_waiters(committed, 2)
        responses = await asyncio.gather(*tasks)

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    loser = next(r for r in responses if r.status_code != 201)
    assert_problem(loser, 409, "resource_taken")
    assert await _count(committed, Booking.calendar_id == uuid.UUID(strict_room)) == 1


async def _concurrently(
    committed: CommittedApp, calls: list[tuple[Caller, str, str, dict[str, object], str | None]]
) -> list[httpx.Response]:
    """Send (caller, method, path, body, if_match) requests at once, each on its own client."""
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(committed.client()) for _ in calls]
        return list(
            await asyncio.gather(
                *(
                    acting_through(caller, client).request(
                        method, path, json=body, headers={"If-Match": etag} if etag else {}
                    )
                    for client, (caller, method, path, body, etag) in zip(
                        clients, calls, strict=True
                    )
                )
            )
        )


async def test_concurrent_additions_of_a_strict_room_admit_one(
    committed: CommittedApp, admin: Caller
) -> None:
    strict_room = await room(admin, strict=True, name="Strict room")
    organizers = [await admin.new_member(name=f"Organizer {n}") for n in range(10)]
    follow_ups = [
        await book(organizer, START + timedelta(minutes=n), START + timedelta(minutes=n) + HOUR)
        for n, organizer in enumerate(organizers)
    ]

    responses = await _concurrently(
        committed,
        [
            (
                organizer,
                "POST",
                f"/v1/follow-ups/{f['id']}/participants",
                {"resource_id": strict_room},
                None,
            )
            for organizer, f in zip(organizers, follow_ups, strict=True)
        ],
    )

    assert sorted(r.status_code for r in responses) == [201] + [409] * 9, [
        r.text for r in responses if r.status_code >= 500
    ]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "resource_taken")
    assert await _count(committed, Booking.calendar_id == uuid.UUID(strict_room)) == 1


async def test_concurrent_moves_onto_a_strict_rooms_time_admit_one(
    committed: CommittedApp, admin: Caller
) -> None:
    strict_room = await room(admin, strict=True, name="Strict room")
    organizers = [await admin.new_member(name=f"Organizer {n}") for n in range(10)]
    follow_ups = [
        await book(
            organizer,
            START + timedelta(days=n + 1),
            START + timedelta(days=n + 1) + HOUR,
            resources=[strict_room],
        )
        for n, organizer in enumerate(organizers)
    ]
    etags = [
        (await organizer.get(f"/v1/follow-ups/{f['id']}")).headers["ETag"]
        for organizer, f in zip(organizers, follow_ups, strict=True)
    ]
    move: dict[str, object] = {"start_at": iso(START), "end_at": iso(START + HOUR)}

    responses = await _concurrently(
        committed,
        [
            (organizer, "PATCH", f"/v1/follow-ups/{f['id']}", move, etag)
            for organizer, f, etag in zip(organizers, follow_ups, etags, strict=True)
        ],
    )

    assert sorted(r.status_code for r in responses) == [200] + [409] * 9, [
        r.text for r in responses if r.status_code >= 500
    ]
    (moved,) = [n for n, r in enumerate(responses) if r.status_code == 200]
    for n, (organizer, follow_up) in enumerate(zip(organizers, follow_ups, strict=True)):
        stored = await view(organizer, follow_up["id"])
        expected = START if n == moved else START + timedelta(days=n + 1)
        assert when(stored["start_at"]) == expected
        assert stored["has_conflict"] is False
    assert await _count(committed, Booking.calendar_id == uuid.UUID(strict_room)) == 10


async def test_two_overlapping_series_booking_a_strict_room_at_once_admit_one(
    committed: CommittedApp, admin: Caller
) -> None:
    """Two weekly series of one strict room whose third occurrences collide: one wins."""
    strict_room = await room(admin, strict=True, name="Strict room")
    first = await admin.new_member(name="Olga Organizer")
    second = await admin.new_member(name="Pia Planner")
    daily: dict[str, object] = {
        "title": "Daily stand-up",
        "start_at": iso(START),
        "end_at": iso(START + HOUR),
        "time_zone": "UTC",
        "recurrence": {"rrule": "FREQ=DAILY;COUNT=5"},
        "participants": [{"resource_id": strict_room}],
    }
    # Starts two days on, half an hour later: its first occurrence overlaps the third above.
    later = START + timedelta(days=2, minutes=30)
    weekly = {
        **daily,
        "title": "Weekly review",
        "start_at": iso(later),
        "end_at": iso(later + HOUR),
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
    }

    responses = await _concurrently(
        committed,
        [
            (first, "POST", "/v1/follow-ups", daily, None),
            (second, "POST", "/v1/follow-ups", weekly, None),
        ],
    )

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 201).json()
    loser = next(r for r in responses if r.status_code == 409)
    problem = assert_problem(loser, 409, "resource_taken")
    (conflict,) = problem["conflicts"]
    # The loser is told which of its occurrences collides: its first if it is the weekly,
    # the third if it is the daily.
    expected = later if winner["title"] == "Daily stand-up" else START + timedelta(days=2)
    assert when(conflict["occurrence_start"]) == expected, problem
    winning_count = 5 if winner["title"] == "Daily stand-up" else 4
    room_id = uuid.UUID(strict_room)
    assert await _count(committed, Booking.calendar_id == room_id) == winning_count
    assert await _count(committed, FollowUp.tenant_id == admin.tenant_id) == 1


async def test_a_booking_not_yet_committed_when_checked_still_gives_409(
    committed: CommittedApp, admin: Caller
) -> None:
    """A strict room's booking moved onto the time by a transaction that takes no room lock.

    The create's check cannot see the uncommitted row; its insert waits on the exclusion
    constraint and is refused once that transaction commits. The answer is still 409
    `resource_taken` naming the booking in the way, and nothing of the create is kept.
    """
    strict_room = await room(admin, strict=True, name="Strict room")
    organizer = await admin.new_member(name="Olga Organizer")
    earlier = await book(organizer, START - 2 * HOUR, START - HOUR, resources=[strict_room])
    body = {
        "title": "Too late",
        "start_at": iso(START),
        "end_at": iso(START + HOUR),
        "participants": [{"resource_id": strict_room}],
    }
    assert committed.database.engine is not None

    async with committed.database.engine.connect() as mover, committed.client() as client:
        await mover.execute(
            text(
                "UPDATE bookings SET during = tstzrange(:start, :end, '[)') "
                "WHERE calendar_id = :room"
            ),
            {"start": START, "end": START + HOUR, "room": uuid.UUID(strict_room)},
        )
        task = asyncio.create_task(
            acting_through(organizer, client).post("/v1/follow-ups", json=body)
        )
        await until_lock_waiters(committed, 1)
        await mover.commit()
        response = await task

    problem = assert_problem(response, 409, "resource_taken")
    (conflict,) = problem["conflicts"]
    assert conflict["follow_up_id"] == earlier["id"]
    assert (when(conflict["start_at"]), when(conflict["end_at"])) == (START, START + HOUR)
    assert when(problem["first_free_at"]) == START + HOUR
    assert await _count(committed, FollowUp.tenant_id == admin.tenant_id) == 1
    assert await _count(committed, Booking.calendar_id == uuid.UUID(strict_room)) == 1
