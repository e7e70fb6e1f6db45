"""Strict rooms one request at a time: 409 `resource_taken` on create, move and add."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Booking
from tests.availability.support import Body, at, book, iso, participant, room, view, when
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import patch, tenant_rows

Taken = tuple[str, datetime, datetime, str | None]


def taken(room_id: str, start: datetime, end: datetime, follow_up_id: str | None) -> Taken:
    return room_id, start, end, follow_up_id


def conflicts(problem: Body) -> list[Taken]:
    """The problem's `conflicts`, each checked to have exactly the documented fields."""
    listed = []
    for conflict in problem["conflicts"]:
        assert set(conflict) == {"resource_id", "start_at", "end_at", "follow_up_id"}, conflict
        listed.append(
            taken(
                conflict["resource_id"],
                when(conflict["start_at"]),
                when(conflict["end_at"]),
                conflict["follow_up_id"],
            )
        )
    return listed


def first_free_at(problem: Body) -> datetime:
    return when(problem["first_free_at"])


async def snapshot(connection: AsyncConnection, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's follow-up rows and bookings: what "nothing changed" compares."""
    rows: dict[str, Any] = dict(await tenant_rows(connection, tenant_id))
    query = select(Booking).where(Booking.tenant_id == tenant_id).order_by(Booking.participant_id)
    rows["bookings"] = list((await connection.execute(query)).all())
    return rows


async def test_an_overlapping_booking_of_a_strict_room_is_refused(
    admin: Caller, connection: AsyncConnection
) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member(name="Olga Owner")
    invitee = await admin.new_member(name="Ivan Invitee")
    stranger = await admin.new_member(name="Sten Stranger")
    first = await book(owner, at(10), at(11), invite=[invitee], resources=[strict])
    before = await snapshot(connection, admin.tenant_id)

    for caller, seen in ((stranger, None), (owner, first["id"]), (invitee, first["id"])):
        response = await caller.post(
            "/v1/follow-ups",
            json={
                "title": "Too late",
                "start_at": iso(at(10, 30)),
                "end_at": iso(at(11, 30)),
                "participants": [{"resource_id": strict}],
            },
        )
        problem = assert_problem(response, 409, "resource_taken")
        # The conflict names the follow-up only to whoever owns or takes part in it.
        assert conflicts(problem) == [taken(strict, at(10), at(11), seen)]
        # Room and caller are free for an hour from 11:00 (the caller's own first
        # booking ends then too).
        assert first_free_at(problem) == at(11)

    assert await snapshot(connection, admin.tenant_id) == before


async def test_back_to_back_bookings_of_a_strict_room_are_fine(admin: Caller) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member()
    other = await admin.new_member()
    middle = await book(owner, at(10), at(11), resources=[strict])
    after = await book(other, at(11), at(12), resources=[strict])
    earlier = await book(other, at(9), at(10), resources=[strict])

    for caller, follow_up in ((owner, middle), (other, after), (other, earlier)):
        stored = await view(caller, follow_up["id"])
        assert stored["has_conflict"] is False
        assert participant(stored, resource_id=strict)["conflict"] is False


async def test_a_cancelled_booking_frees_a_strict_room(admin: Caller) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member()
    other = await admin.new_member()
    first = await book(owner, at(10), at(11), resources=[strict])
    await book(other, at(10), at(11), resources=[strict], expect=409)
    ok(await owner.post(f"/v1/follow-ups/{first['id']}/cancel"))

    second = await book(other, at(10), at(11), resources=[strict])
    assert participant(second, resource_id=strict)["conflict"] is False


async def test_every_taken_booking_of_only_the_strict_rooms_is_listed(admin: Caller) -> None:
    strict = await room(admin, strict=True, name="Strict")
    shared = await room(admin, name="Shared")
    owner = await admin.new_member()
    other = await admin.new_member()
    one = await book(owner, at(10), at(11), resources=[strict, shared])
    two = await book(owner, at(11, 30), at(12), resources=[strict])

    problem = assert_problem(
        await other.post(
            "/v1/follow-ups",
            json={
                "title": "Four hours",
                "start_at": iso(at(9)),
                "end_at": iso(at(13)),
                "participants": [{"resource_id": shared}, {"resource_id": strict}],
            },
        ),
        409,
        "resource_taken",
    )
    assert conflicts(problem) == [
        taken(strict, at(10), at(11), None),
        taken(strict, at(11, 30), at(12), None),
    ]
    # Four free hours for both rooms and the caller start when the strict room's last
    # booking ends: 9-10 and 11-11:30 are too short.
    assert first_free_at(problem) == at(12)
    assert one["id"] != two["id"]


async def test_moving_onto_a_strict_rooms_taken_time_is_refused(
    admin: Caller, connection: AsyncConnection
) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member()
    other = await admin.new_member()
    invitee = await admin.new_member()
    await book(owner, at(10), at(11), resources=[strict])
    moving = await book(other, at(14), at(15), invite=[invitee], resources=[strict])
    invitation = participant(moving, associate_id=invitee.subject)["id"]
    ok(await invitee.post(f"/v1/invitations/{invitation}/response", json={"status": "accepted"}))
    stored = await view(other, moving["id"])
    etag = (await other.get(f"/v1/follow-ups/{moving['id']}")).headers["ETag"]
    before = await snapshot(connection, admin.tenant_id)

    response = await patch(
        other, moving["id"], {"start_at": iso(at(10, 30)), "end_at": iso(at(11, 30))}
    )

    problem = assert_problem(response, 409, "resource_taken")
    assert conflicts(problem) == [taken(strict, at(10), at(11), None)]
    assert first_free_at(problem) == at(11)
    # Nothing changed: not the time, not the invitee's answer, not the bookings or the ETag.
    assert await snapshot(connection, admin.tenant_id) == before
    again = await other.get(f"/v1/follow-ups/{moving['id']}")
    assert again.json() == stored
    assert again.headers["ETag"] == etag
    assert participant(again.json(), associate_id=invitee.subject)["status"] == "accepted"


async def test_moving_over_its_own_time_on_a_strict_room_is_fine(admin: Caller) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member()
    moving = await book(owner, at(10), at(11), resources=[strict])

    response = await patch(
        owner, moving["id"], {"start_at": iso(at(10, 30)), "end_at": iso(at(11, 30))}
    )

    moved = ok(response)
    assert (when(moved["start_at"]), when(moved["end_at"])) == (at(10, 30), at(11, 30))
    assert participant(moved, resource_id=strict)["conflict"] is False
    # The room is now busy at the new time only.
    blocked = await book(owner, at(11), at(12), resources=[strict], expect=409)
    assert conflicts(blocked) == [taken(strict, at(10, 30), at(11, 30), moving["id"])]
    await book(owner, at(9, 30), at(10, 30), resources=[strict])


async def test_adding_a_strict_room_at_a_taken_time_is_refused(
    admin: Caller, connection: AsyncConnection
) -> None:
    strict = await room(admin, strict=True)
    owner = await admin.new_member()
    other = await admin.new_member()
    first = await book(owner, at(10), at(11), resources=[strict])
    clashing = await book(other, at(10, 30), at(11, 30))
    adjacent = await book(other, at(11), at(12))
    before = await snapshot(connection, admin.tenant_id)

    response = await other.post(
        f"/v1/follow-ups/{clashing['id']}/participants", json={"resource_id": strict}
    )

    problem = assert_problem(response, 409, "resource_taken")
    assert conflicts(problem) == [taken(strict, at(10), at(11), None)]
    # The organizer's own follow-up from 11 to 12 blocks that hour too.
    assert first_free_at(problem) == at(12)
    assert await snapshot(connection, admin.tenant_id) == before
    assert [p["kind"] for p in (await view(other, clashing["id"]))["participants"]] == ["associate"]

    added = ok(
        await other.post(
            f"/v1/follow-ups/{adjacent['id']}/participants", json={"resource_id": strict}
        ),
        201,
    )
    assert (added["resource_id"], added["status"], added["conflict"]) == (
        strict,
        "accepted",
        False,
    )
    assert first["has_conflict"] is False
