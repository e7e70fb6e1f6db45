"""Round trips of group free/busy, pinned: the token check and one statement."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.availability.support import at, availability, book, room
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
