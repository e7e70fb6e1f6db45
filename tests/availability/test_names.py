"""Names in free/busy: each calendar carries its colleague's or resource's name."""

from app.availability import schemas
from tests.availability.support import at, availability, book, iso, room
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok


async def test_each_calendar_carries_its_name(admin: Caller) -> None:
    owner = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Berg")
    fjord = await room(admin, name="Fjord room")
    await book(owner, at(9), at(10), invite=[bo], resources=[fjord])

    found = await availability(bo, at(8), at(12), associates=[owner, bo], resources=[fjord])

    assert [(c["kind"], c["id"], c["name"]) for c in found["calendars"]] == [
        ("associate", owner.subject, "Olga Organizer"),
        ("associate", bo.subject, "Bo Berg"),
        ("resource", fjord, "Fjord room"),
    ]


async def test_renamed_and_deactivated_calendars_show_their_current_name(admin: Caller) -> None:
    bo = await admin.new_member(name="Bo Berg")
    fjord = await room(admin, name="Fjord room")
    ok(await admin.patch(f"/v1/associates/{bo.subject}", json={"name": "Bo Berg-Holm"}))
    ok(await admin.patch(f"/v1/resources/{fjord}", json={"name": "Fjord (2nd floor)"}))
    assert (await admin.delete(f"/v1/resources/{fjord}")).status_code == 204

    found = await availability(admin, at(8), at(12), associates=[bo], resources=[fjord])

    assert [c["name"] for c in found["calendars"]] == ["Bo Berg-Holm", "Fjord (2nd floor)"]


async def test_names_needing_escapes_come_out_as_pydantic_writes_them(admin: Caller) -> None:
    """The database writes the body; a name with quotes, backslashes and emoji must match."""
    names = ['Ada "the Countess" Lovelace', "C:\\Rooms\\Fjord", "Zoë 😀 Ødegård", "</script>"]
    people = [await admin.new_member(name=name) for name in names[::2]]
    rooms = [await room(admin, name=name) for name in names[1::2]]

    response = await admin.get(
        "/v1/availability",
        params=[
            *(("associate_ids", p.subject) for p in people),
            *(("resource_ids", r) for r in rooms),
            ("start", iso(at(8))),
            ("end", iso(at(12))),
        ],
    )

    model = schemas.Availability.model_validate_json(ok(response) and response.content)
    assert response.content == model.__pydantic_serializer__.to_json(model)
    assert sorted(c.name for c in model.calendars) == sorted(names)
