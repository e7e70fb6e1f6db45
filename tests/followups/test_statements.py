"""Round trips of the organizer's hot paths, pinned: a change that adds one fails here."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import Caller, create_resource, follow_up_body
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
    # The token check, the owner, the colleagues, the room, the follow-up, its participants,
    # the strict resources' locks, the bookings, the notifications, the event, the view.
    assert len(sent) == 11, "\n".join(sent)
