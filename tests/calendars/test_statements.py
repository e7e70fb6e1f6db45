"""Round trips of calendar reads, pinned: the .ics and a feed poll, with many follow-ups."""

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.calendars.support import book_at, events_of, new_feed
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.statements import statements as statements_of


async def test_a_follow_ups_ics_is_three_statements(admin: Caller, engine: AsyncEngine) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin)
    created = await book_at(organizer, 1, bo, participants=[{"resource_id": room["id"]}])

    with statements_of(engine) as sent:
        response = await organizer.get(f"/v1/follow-ups/{created['id']}.ics")

    assert created["id"] in events_of(response)
    # The token check, the follow-up if visible, its attendees with names and addresses.
    assert len(sent) == 3, sent


async def test_a_feed_poll_is_three_statements_whatever_it_holds(
    admin: Caller, member: Caller, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    colleague = await admin.new_member()
    for day in range(1, 21):
        await book_at(member if day % 2 else colleague, day, *([member] if day % 2 == 0 else []))
    _, path = await new_feed(member)
    first = await client.get(path)
    assert len(events_of(first)) == 20

    with statements_of(engine) as sent:
        again = await client.get(path)
    with statements_of(engine) as unchanged:
        not_modified = await client.get(path, headers={"If-None-Match": again.headers["ETag"]})

    assert again.content == first.content
    assert not_modified.status_code == 304
    # The feed, the follow-ups in its window, their attendees; a changed body adds one UPDATE.
    assert len(sent) == 3, sent
    assert len(unchanged) == 3, unchanged
