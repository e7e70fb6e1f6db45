"""Participants of a follow-up: add, remove, acknowledge a decline, and the response history."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller, create_contact, create_person, create_resource
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import (
    DAY,
    Body,
    as_seen_by,
    book,
    fetch,
    ids,
    insert_persons,
    items,
    new_target,
    notifications,
    participant,
    respond,
    tenant_rows,
)


def participants_url(follow_up: Body) -> str:
    return f"/v1/follow-ups/{follow_up['id']}/participants"


async def add(caller: Caller, follow_up: Body, ref: Body) -> Body:
    """Add a participant; as the follow-up lists it (no answers to or exclusions from single
    occurrences)."""
    added: Body = ok(await caller.post(participants_url(follow_up), json=ref), 201)
    assert "occurrence_answers" not in added
    return {**added, "occurrence_answers": [], "excluded_occurrences": []}


async def listed(caller: Caller, follow_up: Body) -> list[Body]:
    found: list[Body] = ok(await caller.get(participants_url(follow_up)))
    return found


async def acknowledge(caller: Caller, follow_up: Body, participant_id: str) -> Body:
    acknowledged: Body = ok(
        await caller.post(f"{participants_url(follow_up)}/{participant_id}/acknowledge")
    )
    return acknowledged


# Add ----------------------------------------------------------------------------------------


async def test_add_a_colleague_invites_them(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    created = await book(member)

    added = await add(member, created, {"associate_id": colleague.subject, "role": "optional"})

    assert (added["kind"], added["associate_id"], added["role"], added["status"]) == (
        "associate",
        colleague.subject,
        "optional",
        "not_read",
    )
    assert [added[k] for k in ("resource_id", "person_id", "responded_at", "seen_at")] == [None] * 4
    assert await listed(member, created) == [*created["participants"], added]
    assert await ids(colleague, "/v1/invitations") == [added["id"]]
    assert (await fetch(colleague, created["id"]))["participants"][-1] == added


async def test_add_a_resource_is_accepted_at_once_and_a_person_not_applicable(
    admin: Caller, member: Caller
) -> None:
    room = await create_resource(admin)
    person = await create_person(admin)
    created = await book(member)

    booked = await add(member, created, {"resource_id": room["id"]})
    invited = await add(member, created, {"person_id": person["id"], "role": "optional"})

    assert (booked["kind"], booked["resource_id"], booked["role"], booked["status"]) == (
        "resource",
        room["id"],
        "required",
        "accepted",
    )
    assert booked["responded_at"] is not None
    assert (invited["kind"], invited["person_id"], invited["status"]) == (
        "person",
        person["id"],
        "not_applicable",
    )
    assert await listed(member, created) == [*created["participants"], booked, invited]


@pytest.fixture
async def full(admin: Caller, member: Caller) -> tuple[Body, dict[str, str]]:
    """A follow-up of `member` with a colleague, a room and a person; and their ids by kind."""
    colleague = await admin.new_member()
    room = await create_resource(admin)
    person = await create_person(admin)
    created = await book(
        member,
        colleague,
        participants=[{"resource_id": room["id"]}, {"person_id": person["id"]}],
    )
    targets = {
        "associate": colleague.subject,
        "resource": room["id"],
        "person": person["id"],
        "organizer": member.subject,
    }
    return created, targets


@pytest.mark.parametrize("kind", ["associate", "resource", "person", "organizer"])
async def test_add_an_existing_participant_is_409(
    member: Caller,
    full: tuple[Body, dict[str, str]],
    connection: AsyncConnection,
    tenant: uuid.UUID,
    kind: str,
) -> None:
    created, targets = full
    key = "associate_id" if kind == "organizer" else f"{kind}_id"
    before = await tenant_rows(connection, tenant)

    response = await member.post(
        participants_url(created), json={key: targets[kind], "role": "optional"}
    )

    assert_problem(response, 409, "duplicate_participant")
    assert await tenant_rows(connection, tenant) == before


@pytest.mark.parametrize(
    ("kind", "state", "status", "code"),
    [
        ("associate", "unknown", 404, "unknown_reference"),
        ("resource", "unknown", 404, "unknown_reference"),
        ("person", "unknown", 404, "unknown_reference"),
        ("associate", "deactivated", 409, "inactive_reference"),
        ("resource", "deactivated", 409, "inactive_reference"),
    ],
)
async def test_add_someone_who_cannot_take_part_is_refused(
    admin: Caller,
    member: Caller,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    kind: str,
    state: str,
    status: int,
    code: str,
) -> None:
    created = await book(member)
    target = str(uuid.uuid4())
    if state == "deactivated":
        target = await new_target(admin, kind)
        assert (await admin.delete(f"/v1/{kind}s/{target}")).status_code == 204
    before = await tenant_rows(connection, tenant)

    response = await member.post(participants_url(created), json={f"{kind}_id": target})

    assert_problem(response, status, code)
    assert await tenant_rows(connection, tenant) == before


async def test_add_past_500_participants_is_422(
    admin: Caller, member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    contact = await create_contact(admin)
    persons = await insert_persons(connection, tenant, contact["id"], 500)
    created = await book(member, participants=[{"person_id": p} for p in persons[:499]])
    assert len(created["participants"]) == 500
    before = await tenant_rows(connection, tenant)

    response = await member.post(participants_url(created), json={"person_id": persons[499]})

    assert_problem(response, 422, "too_many_participants")
    assert await tenant_rows(connection, tenant) == before
    last = created["participants"][-1]["id"]
    assert (await member.delete(f"{participants_url(created)}/{last}")).status_code == 204
    await add(member, created, {"person_id": persons[499]})


# Remove -------------------------------------------------------------------------------------


async def test_remove_a_colleague_hides_the_follow_up_but_keeps_their_answers(
    admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    await respond(colleague, invitation, "tentative", "Maybe")
    await respond(colleague, invitation, "declined", "No")

    response = await member.delete(f"{participants_url(created)}/{invitation}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await listed(member, created) == created["participants"][:1]
    assert_problem(await colleague.get(f"/v1/follow-ups/{created['id']}"), 404, "not_found")
    assert await ids(colleague, "/v1/follow-ups", **DAY) == []
    assert await ids(colleague, "/v1/invitations") == []
    history = await items(member, f"/v1/follow-ups/{created['id']}/responses")
    assert [
        (r["participant_id"], r["associate_id"], r["status"], r["comment"]) for r in history
    ] == [
        (None, colleague.subject, "tentative", "Maybe"),
        (None, colleague.subject, "declined", "No"),
    ]


@pytest.mark.parametrize("kind", ["resource", "person"])
async def test_remove_a_resource_or_person(
    member: Caller, full: tuple[Body, dict[str, str]], kind: str
) -> None:
    created, targets = full
    removed = participant(created, **{f"{kind}_id": targets[kind]})

    response = await member.delete(f"{participants_url(created)}/{removed['id']}")

    assert response.status_code == 204, response.text
    assert await listed(member, created) == [
        p for p in created["participants"] if p["id"] != removed["id"]
    ]


async def test_remove_the_organizer_is_409(member: Caller) -> None:
    created = await book(member)
    organizer = created["participants"][0]

    response = await member.delete(f"{participants_url(created)}/{organizer['id']}")

    assert_problem(response, 409, "organizer_participant")
    assert await fetch(member, created["id"]) == created


async def test_remove_twice_or_from_another_follow_up_is_404(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    other = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]

    from_other = await member.delete(f"{participants_url(other)}/{invitation}")
    first = await member.delete(f"{participants_url(created)}/{invitation}")
    second = await member.delete(f"{participants_url(created)}/{invitation}")

    assert_problem(from_other, 404, "not_found")
    assert first.status_code == 204
    assert_problem(second, 404, "not_found")
    after = await fetch(member, other["id"])
    assert without_conflicts(after) == without_conflicts(other)
    # Booked twice at the same time, the colleague was double-booked; removed from one, not.
    assert participant(other, associate_id=colleague.subject)["conflict"] is True
    assert participant(after, associate_id=colleague.subject)["conflict"] is False


def without_conflicts(follow_up: dict[str, Any]) -> dict[str, Any]:
    """The follow-up without its conflict flags, which change as other follow-ups do."""
    drop = {"has_conflict", "conflict", "first_free_at"}
    return {
        **{k: v for k, v in follow_up.items() if k not in drop},
        "participants": [
            {k: v for k, v in p.items() if k not in drop} for p in follow_up["participants"]
        ],
    }


# Acknowledge --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["not_read", "seen", "accepted", "tentative"])
async def test_acknowledge_what_was_not_declined_is_409(
    admin: Caller, member: Caller, status: str
) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    if status == "seen":
        ok(await colleague.post(f"/v1/invitations/{invitation}/seen"))
    elif status != "not_read":
        await respond(colleague, invitation, status)
    before = await fetch(member, created["id"])

    response = await member.post(f"{participants_url(created)}/{invitation}/acknowledge")

    assert_problem(response, 409, "not_declined")
    assert await fetch(member, created["id"]) == before


@pytest.mark.parametrize("kind", ["resource", "person", "organizer"])
async def test_acknowledge_someone_who_does_not_answer_is_409(
    member: Caller, full: tuple[Body, dict[str, str]], kind: str
) -> None:
    created, targets = full
    key = "associate_id" if kind == "organizer" else f"{kind}_id"
    target = participant(created, **{key: targets[kind]})

    response = await member.post(f"{participants_url(created)}/{target['id']}/acknowledge")

    assert_problem(response, 409, "not_declined")


async def test_each_new_decline_needs_a_new_acknowledge(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]

    declined = await respond(colleague, invitation, "declined")
    first = await acknowledge(member, created, invitation)
    repeated = await acknowledge(member, created, invitation)
    accepted = await respond(colleague, invitation, "accepted")
    too_early = await member.post(f"{participants_url(created)}/{invitation}/acknowledge")
    declined_again = await respond(colleague, invitation, "declined", "After all, no")
    listed_before = participant(await fetch(member, created["id"]), id=invitation)
    second = await acknowledge(member, created, invitation)

    assert declined["acknowledged_at"] is None
    assert first["status"] == "declined"
    assert first["acknowledged_at"] is not None
    assert repeated == first
    assert accepted["acknowledged_at"] is None
    assert_problem(too_early, 409, "not_declined")
    assert declined_again["acknowledged_at"] is None
    assert listed_before["acknowledged_at"] is None
    assert datetime.fromisoformat(second["acknowledged_at"]) > datetime.fromisoformat(
        first["acknowledged_at"]
    )
    assert participant(await fetch(member, created["id"]), id=invitation) == second


# The response history -----------------------------------------------------------------------


async def test_responses_are_listed_oldest_first_with_the_previous_status(
    admin: Caller, member: Caller
) -> None:
    first = await admin.new_member()
    second = await admin.new_member()
    created = await book(member, first, second)
    one = participant(created, associate_id=first.subject)["id"]
    two = participant(created, associate_id=second.subject)["id"]
    ok(await first.post(f"/v1/invitations/{one}/seen"))
    await respond(first, one, "accepted", "Fine")
    await respond(second, two, "tentative")
    await respond(first, one, "declined", "Something came up")
    await respond(second, two, "accepted")
    url = f"/v1/follow-ups/{created['id']}/responses"

    history = await items(member, url)

    assert [
        (r["participant_id"], r["associate_id"], r["previous_status"], r["status"], r["comment"])
        for r in history
    ] == [
        (one, first.subject, "seen", "accepted", "Fine"),
        (two, second.subject, "not_read", "tentative", None),
        (one, first.subject, "accepted", "declined", "Something came up"),
        (two, second.subject, "tentative", "accepted", None),
    ]
    for record in history:
        assert datetime.fromisoformat(record["responded_at"]).utcoffset() is not None
    # An invitee reads their own comments only; the organizer reads all.
    assert await items(second, url) == as_seen_by(history, second.subject)
    walked: list[Body] = []
    cursor = None
    for _ in history:
        page = ok(
            await member.get(url, params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        )
        walked += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == history


async def test_seen_is_not_a_response_and_notifies_no_one(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]

    ok(await colleague.post(f"/v1/invitations/{invitation}/seen"))

    assert await items(member, f"/v1/follow-ups/{created['id']}/responses") == []
    assert await notifications(member) == []
