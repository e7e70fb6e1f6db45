"""Names in the invitee's answers: their own display_name and the organizer's name."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import book, items, participant, respond


async def test_the_inbox_names_the_invitee_and_the_organizer(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Berg")
    created = await book(organizer, bo)

    (invitation,) = await items(bo, "/v1/invitations")

    assert invitation["display_name"] == "Bo Berg"
    assert invitation["follow_up"]["owner_id"] == organizer.subject
    assert invitation["follow_up"]["owner_name"] == "Olga Organizer"
    assert invitation["follow_up"]["id"] == created["id"]


async def test_seen_and_answers_carry_the_invitees_name(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Berg")
    invitation = participant(await book(organizer, bo), associate_id=bo.subject)["id"]

    marked = ok(await bo.post(f"/v1/invitations/{invitation}/seen"))
    assert marked["display_name"] == "Bo Berg"
    for status in ("accepted", "declined", "tentative"):
        assert (await respond(bo, invitation, status))["display_name"] == "Bo Berg"


async def test_a_renamed_organizer_shows_in_the_inbox(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Berg")
    await book(organizer, bo)

    ok(await admin.patch(f"/v1/associates/{organizer.subject}", json={"name": "Olga Ny"}))
    assert (await admin.delete(f"/v1/associates/{organizer.subject}")).status_code == 204

    (invitation,) = await items(bo, "/v1/invitations")
    assert invitation["follow_up"]["owner_name"] == "Olga Ny"


async def test_marking_seen_costs_no_more_statements(admin: Caller, engine: AsyncEngine) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member(name="Bo Berg")
    invitation = participant(await book(organizer, bo), associate_id=bo.subject)["id"]

    with statements(engine) as sent:
        marked = ok(await bo.post(f"/v1/invitations/{invitation}/seen"))

    assert marked["display_name"] == "Bo Berg"
    # As before names (main at 12e6339): the name came with the conflict flag.
    assert len(sent) == SEEN_STATEMENTS, sent


SEEN_STATEMENTS = 7
