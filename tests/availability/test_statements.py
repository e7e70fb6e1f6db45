"""Round trips of group free/busy and first-free (the token check and one statement), pinned."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.availability.support import at, availability, book, first_free, room, utc
from tests.fixtures.factories import Caller
from tests.fixtures.statements import statements


async def test_free_busy_is_the_token_check_and_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    owner, other = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    await book(owner, at(9), at(10), resources=[shared])

    with statements(engine) as sent:
        found = await availability(
            owner, at(8), at(12), associates=[owner, other], resources=[shared]
        )

    assert [len(c["busy"]) for c in found["calendars"]] == [1, 0, 1]
    assert [" ".join(s.split()[:2]) for s in sent] == ["SELECT associates.name", "WITH asked"]


async def test_first_free_in_working_hours_is_the_token_check_and_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    owner, other = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    monday = utc("2026-03-30T00:00")
    await book(owner, monday, monday + timedelta(days=2), resources=[shared])

    with statements(engine) as sent:
        found = await first_free(
            owner,
            associates=[owner, other],
            resources=[shared],
            after=monday,
            before=monday + timedelta(days=31),
            working_hours=True,
        )

    assert len(found) == 1
    assert found[0][0] >= monday + timedelta(days=2)
    # One statement checks the calendars, reads the associates' working hours, and widens its
    # window past the two busy days (1 day, then 7) by itself.
    assert [" ".join(s.split()[:2]) for s in sent] == ["SELECT associates.name", "WITH known"]


async def test_first_free_outside_working_hours_checks_the_calendars_in_the_search(
    admin: Caller, engine: AsyncEngine
) -> None:
    owner, other = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    monday = utc("2026-03-30T09:00")
    await book(owner, monday, monday + timedelta(hours=1), resources=[shared])

    with statements(engine) as sent:
        found = await first_free(
            owner,
            associates=[owner, other],
            resources=[shared],
            after=monday,
            before=monday + timedelta(days=31),
        )

    assert found[0][0] == monday + timedelta(hours=1)
    assert [" ".join(s.split()[:2]) for s in sent] == ["SELECT associates.name", "WITH known"]
