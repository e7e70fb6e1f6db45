"""Creating follow-ups on a committed database, where a create without an Idempotency-Key
runs without BEGIN/COMMIT: its one statement commits on its own, and what may lock or write
more (a resource, a series, a taken strict room) runs in a transaction of its own.
"""

import asyncio
import uuid

from sqlalchemy import func, select

from app.models import Booking, Event, FollowUp, Notification, Participant
from tests.fixtures.committed import (  # noqa: F401 (fixtures)
    CommittedApp,
    acting_through,
    admin,
    client,
    committed,
    committed_app,
    committed_url,
)
from tests.fixtures.factories import Caller, create_resource, follow_up_body
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import at


async def _counts(committed: CommittedApp, tenant_id: uuid.UUID) -> dict[str, int]:
    """The tenant's rows of each table a create writes."""
    counts = {}
    async with committed.database.sessionmaker() as session:
        for model in (FollowUp, Participant, Booking, Notification, Event):
            query = select(func.count()).where(model.tenant_id == tenant_id)
            counts[model.__tablename__] = int(await session.scalar(query) or 0)
    return counts


async def test_single_follow_ups_commit_whole(committed: CommittedApp, admin: Caller) -> None:
    organizer = await admin.new_member(time_zone="America/New_York")
    bo = await admin.new_member()

    alone = ok(await organizer.post("/v1/follow-ups", json=follow_up_body(title="Alone")), 201)
    assert ok(await organizer.get(f"/v1/follow-ups/{alone['id']}")) == alone
    assert alone["time_zone"] == "America/New_York"
    invited = ok(
        await organizer.post(
            "/v1/follow-ups",
            json=follow_up_body(
                start_at=at(11), end_at=at(12), participants=[{"associate_id": bo.subject}]
            ),
        ),
        201,
    )
    assert ok(await organizer.get(f"/v1/follow-ups/{invited['id']}")) == invited

    assert await _counts(committed, admin.tenant_id) == {
        "follow_ups": 2,
        "participants": 3,
        "bookings": 3,
        "notifications": 1,
        "events": 2,
    }


async def test_a_room_and_a_series_commit_in_one_transaction(
    committed: CommittedApp, admin: Caller
) -> None:
    organizer = await admin.new_member()
    room = await create_resource(admin, allow_double_booking=False)
    body = follow_up_body(
        participants=[{"resource_id": room["id"]}],
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"},
    )
    series = ok(await organizer.post("/v1/follow-ups", json=body), 201)
    assert ok(await organizer.get(f"/v1/follow-ups/{series['id']}")) == series

    assert await _counts(committed, admin.tenant_id) == {
        "follow_ups": 1,
        "participants": 2,
        "bookings": 6,  # the organizer and the room, three occurrences each
        "notifications": 0,
        "events": 1,
    }


async def test_a_taken_strict_room_writes_nothing(committed: CommittedApp, admin: Caller) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin, allow_double_booking=False)
    await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"resource_id": room["id"]}])
    )
    before = await _counts(committed, admin.tenant_id)

    second = follow_up_body(
        start_at=at(9, 30),
        end_at=at(10, 30),
        participants=[{"associate_id": bo.subject}, {"resource_id": room["id"]}],
    )
    response = await organizer.post("/v1/follow-ups", json=second)

    problem = assert_problem(response, 409, "resource_taken")
    assert problem["first_free_at"] == "2026-03-30T08:00:00Z"
    assert await _counts(committed, admin.tenant_id) == before


async def test_concurrent_creates_of_a_strict_room_book_it_once(
    committed: CommittedApp, admin: Caller
) -> None:
    organizers = [await admin.new_member() for _ in range(6)]
    room = await create_resource(admin, allow_double_booking=False)
    body = follow_up_body(participants=[{"resource_id": room["id"]}])

    async def create(organizer: Caller) -> int:
        async with committed.client() as own:
            response = await acting_through(organizer, own).post("/v1/follow-ups", json=body)
            return response.status_code

    statuses = await asyncio.gather(*(create(o) for o in organizers))

    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    counts = await _counts(committed, admin.tenant_id)
    assert (counts["follow_ups"], counts["bookings"]) == (1, 2)
