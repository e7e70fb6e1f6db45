"""Names in answers: each participant's display_name, the owner's name, the answerer's name."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import Caller, create_contact, create_person, create_resource
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import DAY, book, fetch, items, participant, respond


async def _world(admin: Caller) -> tuple[Caller, Caller, str, str, str]:
    """An organizer, an invited colleague, a room, a contact and its person, all named."""
    organizer = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Berg")
    room = (await create_resource(admin, name="Fjord room"))["id"]
    contact = (await create_contact(admin, name="Nordlys A/S"))["id"]
    dina = (await create_person(admin, contact, name="Dina Dahl"))["id"]
    return organizer, bo, room, contact, dina


def _names(participants: list[dict[str, str]]) -> dict[str, str]:
    """Each participant's display_name, by the id of what takes part."""
    return {
        p["associate_id"] or p["resource_id"] or p["person_id"]: p["display_name"]
        for p in participants
    }


async def test_every_kind_of_participant_carries_its_name(admin: Caller) -> None:
    organizer, bo, room, _, dina = await _world(admin)
    created = await book(organizer, bo, participants=[{"resource_id": room}, {"person_id": dina}])
    expected = {
        organizer.subject: "Olga Organizer",
        bo.subject: "Bo Berg",
        room: "Fjord room",
        dina: "Dina Dahl",
    }

    assert _names(created["participants"]) == expected
    assert created["owner_name"] == "Olga Organizer"
    for viewer in (organizer, bo):
        shown = await fetch(viewer, created["id"])
        assert _names(shown["participants"]) == expected
        assert shown["owner_name"] == "Olga Organizer"
        listed = ok(await viewer.get(f"/v1/follow-ups/{created['id']}/participants"))
        assert _names(listed) == expected


async def test_an_added_participant_is_answered_with_its_name(admin: Caller) -> None:
    organizer, bo, room, _, dina = await _world(admin)
    created = await book(organizer)
    url = f"/v1/follow-ups/{created['id']}/participants"

    for ref, name in (
        ({"associate_id": bo.subject}, "Bo Berg"),
        ({"resource_id": room}, "Fjord room"),
        ({"person_id": dina}, "Dina Dahl"),
    ):
        added = await organizer.create(url, ref)
        assert added["display_name"] == name, added


async def test_an_acknowledged_decline_shows_the_name(admin: Caller) -> None:
    organizer, bo, *_ = await _world(admin)
    created = await book(organizer, bo)
    invitation = participant(created, associate_id=bo.subject)["id"]
    await respond(bo, invitation, "declined")

    acknowledged = ok(
        await organizer.post(
            f"/v1/follow-ups/{created['id']}/participants/{invitation}/acknowledge"
        )
    )

    assert acknowledged["display_name"] == "Bo Berg"


async def test_the_diary_and_the_archive_show_the_owners_name(admin: Caller) -> None:
    organizer, bo, _, contact, _ = await _world(admin)
    created = await book(organizer, bo, contact_id=contact)

    diary = await items(bo, "/v1/follow-ups", **DAY)
    assert [(e["id"], e["owner_name"]) for e in diary] == [(created["id"], "Olga Organizer")]
    for reader in (admin, organizer):
        archive = await items(reader, f"/v1/contacts/{contact}/activities")
        assert [(a["id"], a["owner_name"]) for a in archive] == [(created["id"], "Olga Organizer")]


async def test_the_response_history_names_who_answered(admin: Caller) -> None:
    organizer, bo, *_ = await _world(admin)
    cy = await admin.new_member(name="Cy Carlsen")
    created = await book(organizer, bo, cy)
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "accepted")
    await respond(cy, participant(created, associate_id=cy.subject)["id"], "declined")

    history = await items(organizer, f"/v1/follow-ups/{created['id']}/responses")

    assert [(r["associate_id"], r["display_name"]) for r in history] == [
        (bo.subject, "Bo Berg"),
        (cy.subject, "Cy Carlsen"),
    ]


async def test_a_renamed_colleague_room_or_person_shows_the_new_name(admin: Caller) -> None:
    organizer, bo, room, _, dina = await _world(admin)
    created = await book(organizer, bo, participants=[{"resource_id": room}, {"person_id": dina}])
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "accepted")

    ok(await admin.patch(f"/v1/associates/{bo.subject}", json={"name": "Bo Berg-Holm"}))
    ok(await admin.patch(f"/v1/associates/{organizer.subject}", json={"name": "Olga Ny"}))
    ok(await admin.patch(f"/v1/resources/{room}", json={"name": "Fjord (2nd floor)"}))
    ok(await admin.patch(f"/v1/persons/{dina}", json={"name": "Dina Dahl-Nørgaard"}))

    shown = await fetch(organizer, created["id"])
    assert _names(shown["participants"]) == {
        organizer.subject: "Olga Ny",
        bo.subject: "Bo Berg-Holm",
        room: "Fjord (2nd floor)",
        dina: "Dina Dahl-Nørgaard",
    }
    assert shown["owner_name"] == "Olga Ny"
    history = await items(organizer, f"/v1/follow-ups/{created['id']}/responses")
    assert [r["display_name"] for r in history] == ["Bo Berg-Holm"]


async def test_a_deactivated_colleague_or_room_keeps_its_name(admin: Caller) -> None:
    organizer, bo, room, *_ = await _world(admin)
    created = await book(organizer, bo, participants=[{"resource_id": room}])
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "tentative")

    assert (await admin.delete(f"/v1/associates/{bo.subject}")).status_code == 204
    assert (await admin.delete(f"/v1/resources/{room}")).status_code == 204

    shown = await fetch(organizer, created["id"])
    assert _names(shown["participants"])[bo.subject] == "Bo Berg"
    assert _names(shown["participants"])[room] == "Fjord room"
    history = await items(organizer, f"/v1/follow-ups/{created['id']}/responses")
    assert [r["display_name"] for r in history] == ["Bo Berg"]


async def test_names_cost_no_statement(admin: Caller, engine: AsyncEngine) -> None:
    """The reads and writes that show names send as many statements as before names."""
    organizer, bo, room, contact, _ = await _world(admin)
    cy = await admin.new_member(name="Cy Carlsen")
    created = await book(organizer, bo, participants=[{"resource_id": room}], contact_id=contact)
    invitation = participant(created, associate_id=bo.subject)["id"]
    await respond(bo, invitation, "declined")
    base = f"/v1/follow-ups/{created['id']}"

    # The counts are those of the code before names (main at 12e6339), with this very test.
    for caller, path, params, expected in (
        (organizer, f"{base}/participants", {}, 3),
        (organizer, f"{base}/responses", {}, 3),
        (bo, "/v1/follow-ups", DAY, 2),
        (admin, f"/v1/contacts/{contact}/activities", {}, 2),
    ):
        with statements(engine) as sent:
            ok(await caller.get(path, params=params))
        assert len(sent) == expected, (path, sent)

    # Writes answered with one participant: its name comes with its conflict flag.
    with statements(engine) as sent:
        ok(await organizer.post(f"{base}/participants/{invitation}/acknowledge"))
    assert len(sent) == 6, sent
    with statements(engine) as sent:
        added = await organizer.create(f"{base}/participants", {"associate_id": cy.subject})
    assert added["display_name"] == "Cy Carlsen"
    assert len(sent) == 10, sent
