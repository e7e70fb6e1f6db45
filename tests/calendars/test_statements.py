"""Round trips of calendar reads, pinned: the .ics and a feed poll, with many follow-ups."""

from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.calendars.support import book_at, events_of, hour_from_now, new_feed
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.responses import ok
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


def _weeks_on(start: str, weeks: int, hours: int = 0) -> str:
    return (datetime.fromisoformat(start) + timedelta(weeks=weeks, hours=hours)).isoformat()


async def test_a_feed_poll_is_three_statements_whatever_it_holds(
    admin: Caller, member: Caller, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    colleague = await admin.new_member()
    for day in range(1, 21):
        await book_at(member if day % 2 else colleague, day, *([member] if day % 2 == 0 else []))
    # Series too, one with a cancelled and a moved occurrence: their exceptions cost nothing.
    start, end = hour_from_now(-3)
    for rule in ("FREQ=DAILY;COUNT=10", "FREQ=WEEKLY"):
        series = await member.create(
            "/v1/follow-ups",
            {"title": rule, "start_at": start, "end_at": end, "recurrence": {"rrule": rule}},
        )
    occurrence = f"/v1/follow-ups/{series['id']}/occurrences/{_weeks_on(start, 1)}"
    ok(await member.post(f"{occurrence}/cancel"))
    moved = {"start_at": _weeks_on(start, 2, hours=2), "end_at": _weeks_on(start, 2, hours=3)}
    occurrence = f"/v1/follow-ups/{series['id']}/occurrences/{_weeks_on(start, 2)}"
    ok(await member.patch(occurrence, json=moved, headers={"If-Match": "*"}))
    _, path = await new_feed(member)
    first = await client.get(path)
    assert len(events_of(first)) == 22

    with statements_of(engine) as sent:
        again = await client.get(path)
    with statements_of(engine) as unchanged:
        not_modified = await client.get(path, headers={"If-None-Match": again.headers["ETag"]})

    assert again.content == first.content
    assert not_modified.status_code == 304
    # The feed, the follow-ups in its window, their attendees; a changed body adds one UPDATE.
    assert len(sent) == 3, sent
    assert len(unchanged) == 3, unchanged
