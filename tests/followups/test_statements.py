"""Round trips of the organizer's hot paths, pinned: a change that adds one fails here."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import Caller, create_person, create_resource, follow_up_body
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import book


async def test_reading_a_follow_up_is_two_statements(admin: Caller, engine: AsyncEngine) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin)
    created = await book(organizer, bo, participants=[{"resource_id": room["id"]}])

    with statements(engine) as sent:
        shown = ok(await organizer.get(f"/v1/follow-ups/{created['id']}"))

    assert len(shown["participants"]) == 3
    # The token check; the follow-up if visible with its participants and their conflicts.
    assert len(sent) == 2, sent


async def test_creating_with_colleagues_and_a_room(admin: Caller, engine: AsyncEngine) -> None:
    organizer = await admin.new_member()
    colleagues = [await admin.new_member() for _ in range(4)]
    room = await create_resource(admin)
    body = follow_up_body(
        participants=[
            *({"associate_id": c.subject} for c in colleagues),
            {"resource_id": room["id"]},
        ]
    )

    with statements(engine) as sent:
        created = await organizer.create("/v1/follow-ups", body)

    assert len(created["participants"]) == 6
    # The token check; the owner, the colleagues and the room (locked if strict); the
    # follow-up with its participants, bookings, notifications and event; the view.
    assert len(sent) == 4, "\n".join(sent)


async def test_creating_with_a_strict_room_and_a_person(admin: Caller, engine: AsyncEngine) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin, allow_double_booking=False)
    person = await create_person(admin)
    body = follow_up_body(
        contact_id=person["contact_id"],
        participants=[
            {"associate_id": bo.subject},
            {"resource_id": room["id"]},
            {"person_id": person["id"]},
        ],
    )

    with statements(engine) as sent:
        created = await organizer.create("/v1/follow-ups", body)

    assert [p["kind"] for p in created["participants"]] == [
        "associate",
        "associate",
        "resource",
        "person",
    ]
    # The same four (the savepoint that guards the strict room is the harness's kind).
    assert len(sent) == 4, "\n".join(sent)


async def test_creating_for_the_organizer_alone(admin: Caller, engine: AsyncEngine) -> None:
    organizer = await admin.new_member(time_zone="America/New_York")

    with statements(engine) as sent:
        created = await organizer.create("/v1/follow-ups", follow_up_body())

    assert [p["role"] for p in created["participants"]] == ["organizer"]
    # Nothing to look up (the owner's time zone comes with the write): the token check; the
    # follow-up with its organizer, booking and event; the view.
    assert len(sent) == 3, "\n".join(sent)
    assert created["time_zone"] == "America/New_York"
