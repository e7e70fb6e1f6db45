"""A single follow-up is booked by one statement: what it writes is what the ORM path would."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.availability import bookings
from app.models import Booking, Event, FollowUp, Notification
from tests.fixtures.factories import (
    Caller,
    create_contact,
    create_person,
    create_resource,
    follow_up_body,
)
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import at, tenant_rows


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session inside the test's transaction, as a request would get."""
    async with app.state.database.sessionmaker() as session:
        yield session


async def _bookings(session: AsyncSession, follow_up_id: uuid.UUID) -> dict[Any, dict[str, Any]]:
    """The follow-up's bookings by calendar, each as its columns."""
    rows = await session.scalars(
        select(Booking)
        .where(Booking.follow_up_id == follow_up_id)
        .execution_options(populate_existing=True)
    )
    return {
        row.calendar_id: {c.key: getattr(row, c.key) for c in Booking.__table__.c} for row in rows
    }


async def test_a_single_follow_up_is_written_whole(
    admin: Caller, session: AsyncSession, connection: AsyncConnection
) -> None:
    organizer = await admin.new_member(name="Ada Organizer")
    bo, cy = await admin.new_member(name="Bo"), await admin.new_member(name="Cy")
    strict_room = await create_resource(admin, name="Strict", allow_double_booking=False)
    shared_room = await create_resource(admin, name="Shared")
    contact = await create_contact(admin)
    person = await create_person(admin, contact["id"])
    body = follow_up_body(
        title="Planning",
        contact_id=contact["id"],
        participants=[
            {"associate_id": bo.subject},
            {"associate_id": cy.subject, "role": "optional"},
            {"resource_id": strict_room["id"]},
            {"resource_id": shared_room["id"]},
            {"person_id": person["id"]},
        ],
    )

    response = await organizer.post("/v1/follow-ups", json=body)
    created = ok(response, 201)
    follow_up_id = uuid.UUID(created["id"])

    # The answer is the follow-up as read back.
    assert ok(await organizer.get(f"/v1/follow-ups/{created['id']}")) == created
    assert (
        response.headers["ETag"]
        == (await organizer.get(f"/v1/follow-ups/{created['id']}")).headers["ETag"]
    )
    shown = {(p["kind"], p["display_name"]): p for p in created["participants"]}
    assert [(p["role"], p["status"]) for p in shown.values()] == [
        ("organizer", "accepted"),
        ("required", "not_read"),
        ("optional", "not_read"),
        ("required", "accepted"),
        ("required", "accepted"),
        ("required", "not_applicable"),
    ]
    assert shown[("resource", "Strict")]["responded_at"] is not None
    ids = [p["id"] for p in created["participants"]]

    # The bookings are the ones the booking repository makes from the participants.
    written = await _bookings(session, follow_up_id)
    assert len(written) == 5  # everyone but the person
    follow_up = await session.get(FollowUp, (admin.tenant_id, follow_up_id))
    assert follow_up is not None
    await bookings.rebook_moved(session, follow_up)
    assert await _bookings(session, follow_up_id) == written
    assert [
        (booking["tentative"], booking["strict"])
        for booking in (
            written[uuid.UUID(calendar)]
            for calendar in (organizer.subject, bo.subject, strict_room["id"], shared_room["id"])
        )
    ] == [(False, False), (True, False), (False, True), (False, False)]

    # One notification per invited colleague, from the organizer.
    notifications = await session.scalars(
        select(Notification).where(Notification.follow_up_id == follow_up_id)
    )
    assert sorted(
        (str(n.associate_id), str(n.participant_id), n.kind, n.actor_id, n.message)
        for n in notifications
    ) == sorted(
        (
            colleague.subject,
            shown[("associate", name)]["id"],
            "invited",
            organizer.subject,
            "You are invited to Planning",
        )
        for colleague, name in ((bo, "Bo"), (cy, "Cy"))
    )

    # The event, under the follow-up's first seq.
    (event,) = await session.scalars(select(Event).where(Event.follow_up_id == follow_up_id))
    assert (event.type, event.seq) == ("follow_up.created", 1)
    assert event.data == {
        "tenant_id": str(admin.tenant_id),
        "follow_up_id": created["id"],
        "owner_id": organizer.subject,
        "start_at": "2026-03-30T07:00:00+00:00",
        "end_at": "2026-03-30T08:00:00+00:00",
        "participant_ids": ids,
        "recurrence": None,
        "split_from": None,
        "seq": 1,
    }
    stored = await connection.scalar(select(FollowUp.seq).where(FollowUp.id == follow_up_id))
    assert stored == 1


async def _bookings_of(connection: AsyncConnection, tenant_id: uuid.UUID) -> list[Any]:
    query = select(Booking).where(Booking.tenant_id == tenant_id).order_by(Booking.participant_id)
    return list((await connection.execute(query)).all())


async def test_a_taken_strict_room_books_nothing(
    admin: Caller, connection: AsyncConnection
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin, allow_double_booking=False)
    first = follow_up_body(participants=[{"resource_id": room["id"]}])
    await organizer.create("/v1/follow-ups", first)
    before = await tenant_rows(connection, admin.tenant_id)
    booked = await _bookings_of(connection, admin.tenant_id)

    second = follow_up_body(
        start_at=at(9, 30),
        end_at=at(10, 30),
        participants=[{"associate_id": bo.subject}, {"resource_id": room["id"]}],
    )
    response = await organizer.post("/v1/follow-ups", json=second)

    problem = assert_problem(response, 409, "resource_taken")
    assert [c["resource_id"] for c in problem["conflicts"]] == [room["id"]]
    assert problem["first_free_at"] == "2026-03-30T08:00:00Z"
    assert await tenant_rows(connection, admin.tenant_id) == before
    assert await _bookings_of(connection, admin.tenant_id) == booked


async def test_the_organizer_alone_is_written_without_a_directory_read(
    admin: Caller, session: AsyncSession
) -> None:
    organizer = await admin.new_member(time_zone="America/New_York")

    # No time zone in the body: the owner's, as when the directory is read.
    response = await organizer.post("/v1/follow-ups", json=follow_up_body(title="Alone"))
    created = ok(response, 201)
    assert ok(await organizer.get(f"/v1/follow-ups/{created['id']}")) == created
    given = ok(
        await organizer.post(
            "/v1/follow-ups", json=follow_up_body(title="Given", time_zone="Asia/Tokyo")
        ),
        201,
    )
    # All day needs the zone before writing (its midnights): the directory is read then.
    all_day = ok(
        await organizer.post(
            "/v1/follow-ups",
            json={
                "title": "Away",
                "all_day": True,
                "start_date": "2026-03-30",
                "end_date": "2026-03-31",
            },
        ),
        201,
    )

    assert [f["time_zone"] for f in (created, given, all_day)] == [
        "America/New_York",
        "Asia/Tokyo",
        "America/New_York",
    ]
    assert all_day["start_at"] == "2026-03-30T04:00:00Z"
    assert [(p["role"], p["status"]) for p in created["participants"]] == [
        ("organizer", "accepted")
    ]
    follow_up_id = uuid.UUID(created["id"])
    written = await _bookings(session, follow_up_id)
    follow_up = await session.get(FollowUp, (admin.tenant_id, follow_up_id))
    assert follow_up is not None
    assert follow_up.time_zone == "America/New_York"
    await bookings.rebook_moved(session, follow_up)
    assert await _bookings(session, follow_up_id) == written
    assert [(b["tentative"], b["strict"]) for b in written.values()] == [(False, False)]
