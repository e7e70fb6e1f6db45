"""The invitee's side: the inbox, marking an invitation seen, and answering it."""

from datetime import UTC, datetime

import pytest

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import Body, at, book, fetch, ids, items, participant, patch, respond

SUMMARY = ("id", "owner_id", "title", "kind", "status", "start_at", "end_at", "time_zone")


async def invited(admin: Caller, organizer: Caller) -> tuple[Caller, Body, str]:
    """A new colleague, a follow-up of `organizer` inviting them, and their invitation's id."""
    colleague = await admin.new_member()
    created = await book(organizer, colleague)
    return colleague, created, participant(created, associate_id=colleague.subject)["id"]


async def seen(caller: Caller, invitation: str) -> Body:
    marked: Body = ok(await caller.post(f"/v1/invitations/{invitation}/seen"))
    return marked


async def current(caller: Caller, follow_up: Body, invitation: str) -> Body:
    """The invitation as the follow-up's participants list shows it now."""
    return participant(await fetch(caller, follow_up["id"]), id=invitation)


# The inbox ----------------------------------------------------------------------------------


async def test_inbox_is_newest_first_with_the_follow_up_summary(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    made = [
        await book(organizer, colleague, title=f"Meeting {n}", location=f"Room {n}")
        for n in range(3)
    ]

    inbox = await items(colleague, "/v1/invitations")

    assert [i["follow_up"]["id"] for i in inbox] == [f["id"] for f in reversed(made)]
    for invitation, follow_up in zip(inbox, reversed(made), strict=True):
        mine = participant(follow_up, associate_id=colleague.subject)
        # The inbox leaves out conflict flags: they need each follow-up's bookings.
        mine = {k: v for k, v in mine.items() if k not in ("conflict", "first_free_at")}
        assert {key: invitation[key] for key in mine} == mine
        summary = invitation["follow_up"]
        assert {key: summary[key] for key in SUMMARY} == {key: follow_up[key] for key in SUMMARY}
        assert (summary["all_day"], summary["location"]) == (False, follow_up["location"])


async def test_inbox_leaves_out_the_callers_own_follow_ups(admin: Caller, member: Caller) -> None:
    other = await admin.new_member()
    await book(member, other)
    theirs = await book(other, member)

    inbox = await items(member, "/v1/invitations")

    assert [i["follow_up"]["id"] for i in inbox] == [theirs["id"]]
    assert [i["role"] for i in inbox] == ["required"]


@pytest.mark.parametrize("status", ["not_read", "seen", "accepted", "declined", "tentative"])
async def test_inbox_filters_by_status(admin: Caller, status: str) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    by_status: dict[str, str] = {}
    for answer in ("not_read", "seen", "accepted", "declined", "tentative"):
        created = await book(organizer, colleague, title=answer)
        invitation = participant(created, associate_id=colleague.subject)["id"]
        if answer == "seen":
            await seen(colleague, invitation)
        elif answer != "not_read":
            await respond(colleague, invitation, answer)
        by_status[answer] = invitation

    found = await items(colleague, "/v1/invitations", status=status)

    assert [(i["id"], i["status"]) for i in found] == [(by_status[status], status)]


async def test_inbox_pages_walk_everything_once(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    made = [await book(member, colleague) for _ in range(5)]

    walked: list[str] = []
    cursor = None
    for _ in made:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await colleague.get("/v1/invitations", params=params))
        walked += [i["follow_up"]["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert walked == [f["id"] for f in reversed(made)]


async def test_assign_moves_the_invitations_between_inboxes(admin: Caller, member: Caller) -> None:
    successor, created, invitation = await invited(admin, member)

    ok(
        await member.post(
            f"/v1/follow-ups/{created['id']}/assign", json={"associate_id": successor.subject}
        )
    )

    assert await ids(successor, "/v1/invitations") == []
    (mine,) = await items(member, "/v1/invitations")
    assert (mine["follow_up"]["owner_id"], mine["role"], mine["status"]) == (
        successor.subject,
        "required",
        "accepted",
    )
    assert (await current(member, created, invitation))["role"] == "organizer"


# Seen ---------------------------------------------------------------------------------------


async def test_seen_marks_not_read_as_seen_once(admin: Caller, member: Caller) -> None:
    colleague, created, invitation = await invited(admin, member)
    started = datetime.now(UTC)

    first = await seen(colleague, invitation)
    second = await seen(colleague, invitation)

    assert first["status"] == "seen"
    assert started <= datetime.fromisoformat(first["seen_at"]) <= datetime.now(UTC)
    assert first["responded_at"] is None
    assert second == first
    assert await current(member, created, invitation) == first


@pytest.mark.parametrize("answer", ["accepted", "declined", "tentative"])
async def test_seen_never_overrides_an_answer(admin: Caller, member: Caller, answer: str) -> None:
    colleague, created, invitation = await invited(admin, member)
    before_answer = await seen(colleague, invitation)
    answered = await respond(colleague, invitation, answer, "My answer")

    again = await seen(colleague, invitation)

    assert again == answered
    assert (again["status"], again["comment"]) == (answer, "My answer")
    assert again["seen_at"] == before_answer["seen_at"]
    assert await current(member, created, invitation) == answered


async def test_answering_unseen_sets_seen_at_too(admin: Caller, member: Caller) -> None:
    colleague, _, invitation = await invited(admin, member)

    answered = await respond(colleague, invitation, "accepted")

    assert answered["seen_at"] is not None
    assert answered["seen_at"] == answered["responded_at"]
    assert (await seen(colleague, invitation))["status"] == "accepted"


# Answers ------------------------------------------------------------------------------------


async def test_an_answer_can_change_and_carries_its_comment(admin: Caller, member: Caller) -> None:
    colleague, created, invitation = await invited(admin, member)

    steps = [
        await respond(colleague, invitation, "tentative", "If I can"),
        await respond(colleague, invitation, "declined", "I cannot"),
        await respond(colleague, invitation, "accepted"),
    ]

    assert [(s["status"], s["comment"]) for s in steps] == [
        ("tentative", "If I can"),
        ("declined", "I cannot"),
        ("accepted", None),
    ]
    times = [datetime.fromisoformat(s["responded_at"]) for s in steps]
    assert times == sorted(times)
    assert len(set(times)) == 3
    assert await current(member, created, invitation) == steps[-1]


async def test_an_answer_clears_rescheduled(admin: Caller, member: Caller) -> None:
    colleague, created, invitation = await invited(admin, member)
    await respond(colleague, invitation, "accepted")
    moved = ok(await patch(member, created["id"], {"start_at": at(8), "end_at": at(9)}))
    assert participant(moved, id=invitation)["rescheduled"] is True

    answered = await respond(colleague, invitation, "accepted", "Still fine")

    assert (answered["status"], answered["rescheduled"]) == ("accepted", False)


async def test_answering_a_cancelled_follow_up_is_409(admin: Caller, member: Caller) -> None:
    colleague, created, invitation = await invited(admin, member)
    await respond(colleague, invitation, "tentative")
    ok(await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={"reason": "Off"}))
    before = await current(member, created, invitation)

    response = await colleague.post(
        f"/v1/invitations/{invitation}/response", json={"status": "accepted"}
    )

    assert_problem(response, 409, "follow_up_cancelled")
    assert await current(member, created, invitation) == before
    assert len(await items(member, f"/v1/follow-ups/{created['id']}/responses")) == 1


@pytest.mark.parametrize("action", ["seen", "response"])
async def test_the_organizer_cannot_answer_their_own_follow_up(member: Caller, action: str) -> None:
    created = await book(member)
    own = created["participants"][0]["id"]

    response = await member.post(f"/v1/invitations/{own}/{action}", json={"status": "declined"})

    assert_problem(response, 409, "organizer_participant")
    assert await fetch(member, created["id"]) == created


async def test_an_invalid_answer_is_422(admin: Caller, member: Caller) -> None:
    colleague, created, invitation = await invited(admin, member)

    response = await colleague.post(
        f"/v1/invitations/{invitation}/response", json={"status": "maybe"}
    )

    assert_invalid(response, "body", "status")
    assert await current(member, created, invitation) == participant(created, id=invitation)
