"""The help page's whole flow, as the README walks it: invite, see, decline, acknowledge, move."""

from tests.fixtures.factories import (
    Caller,
    create_contact,
    create_person,
    create_resource,
    follow_up_body,
)


async def test_invite_decline_acknowledge_move_accept(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    room = await create_resource(admin, name="Boardroom")
    contact = await create_contact(admin)
    person = await create_person(admin, contact["id"])

    created = await member.create(
        "/v1/follow-ups",
        follow_up_body(
            participants=[
                {"associate_id": colleague.subject},
                {"resource_id": room["id"]},
                {"person_id": person["id"], "role": "optional"},
            ]
        ),
    )
    statuses = {p["kind"]: (p["role"], p["status"]) for p in created["participants"][1:]}
    assert created["participants"][0]["role"] == "organizer"
    assert created["participants"][0]["status"] == "accepted"
    assert statuses == {
        "associate": ("required", "not_read"),
        "resource": ("required", "accepted"),
        "person": ("optional", "not_applicable"),
    }
    follow_up = f"/v1/follow-ups/{created['id']}"

    inbox = (await colleague.get("/v1/invitations")).json()["items"]
    assert [i["follow_up"]["id"] for i in inbox] == [created["id"]]
    invitation = inbox[0]["id"]
    assert (await colleague.post(f"/v1/invitations/{invitation}/seen")).json()["status"] == "seen"
    declined = await colleague.post(
        f"/v1/invitations/{invitation}/response", json={"status": "declined", "comment": "Away"}
    )
    assert declined.status_code == 200, declined.text

    participants = (await member.get(f"{follow_up}/participants")).json()
    mine = next(p for p in participants if p["id"] == invitation)
    assert (mine["status"], mine["comment"]) == ("declined", "Away")
    acknowledged = await member.post(f"{follow_up}/participants/{invitation}/acknowledge")
    assert acknowledged.json()["acknowledged_at"] is not None

    current = await member.get(follow_up)
    moved = await member.patch(
        follow_up,
        json={"start_at": "2026-04-01T13:00:00+02:00", "end_at": "2026-04-01T14:00:00+02:00"},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    again = next(p for p in moved.json()["participants"] if p["id"] == invitation)
    assert (again["status"], again["rescheduled"], again["acknowledged_at"]) == (
        "not_read",
        True,
        None,
    )

    accepted = await colleague.post(
        f"/v1/invitations/{invitation}/response", json={"status": "accepted"}
    )
    assert (accepted.json()["status"], accepted.json()["rescheduled"]) == ("accepted", False)

    archive = (await admin.get(f"/v1/contacts/{contact['id']}/activities")).json()["items"]
    assert [a["id"] for a in archive] == [created["id"]]
    history = (await member.get(f"{follow_up}/responses")).json()["items"]
    assert [(r["previous_status"], r["status"]) for r in history] == [
        ("seen", "declined"),
        ("not_read", "accepted"),
    ]
