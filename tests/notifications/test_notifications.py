"""The on-screen inbox: who is told what, newest first, the unread filter and marking read."""

from datetime import UTC, datetime

import pytest

from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.followups.support import Body, at, book, notifications, participant, patch, respond


def summary(inbox: list[Body]) -> list[tuple[str, str | None]]:
    """Each notification's kind and participant id, in the order listed."""
    return [(n["kind"], n["participant_id"]) for n in inbox]


async def test_each_change_notifies_the_right_people_and_never_the_actor(admin: Caller) -> None:
    owner = await admin.new_member()
    ann = await admin.new_member()
    ben = await admin.new_member()
    cai = await admin.new_member()
    created = await book(owner, ann, ben, title="Board meeting")
    url = f"/v1/follow-ups/{created['id']}"
    anns = participant(created, associate_id=ann.subject)["id"]
    bens = participant(created, associate_id=ben.subject)["id"]
    owners = participant(created, associate_id=owner.subject)["id"]  # required after assign

    cais = ok(await owner.post(f"{url}/participants", json={"associate_id": cai.subject}), 201)
    await respond(ann, anns, "accepted")
    ok(await patch(owner, created["id"], {"start_at": at(13), "end_at": at(14)}))
    assert (await owner.delete(f"{url}/participants/{bens}")).status_code == 204
    ok(await owner.post(f"{url}/assign", json={"associate_id": ann.subject}))
    ok(await ann.post(f"{url}/cancel", json={"reason": "Postponed"}))

    inboxes = {
        "owner": await notifications(owner),
        "ann": await notifications(ann),
        "ben": await notifications(ben),
        "cai": await notifications(cai),
    }
    # Each names the participant it is about: the recipient's own invitation, or for the
    # organizer the invitee who answered; an assignment is about the follow-up as a whole.
    assert {who: summary(inbox) for who, inbox in inboxes.items()} == {
        "owner": [("cancelled", owners), ("responded", anns)],
        "ann": [("assigned", None), ("rescheduled", anns), ("invited", anns)],
        "ben": [("removed", bens), ("rescheduled", bens), ("invited", bens)],
        "cai": [("cancelled", cais["id"]), ("rescheduled", cais["id"]), ("invited", cais["id"])],
    }
    actors = {
        "owner": [ann.subject, ann.subject],
        "ann": [owner.subject] * 3,
        "ben": [owner.subject] * 3,
        "cai": [ann.subject, owner.subject, owner.subject],
    }
    assert {who: [n["actor_id"] for n in inbox] for who, inbox in inboxes.items()} == actors
    for inbox in inboxes.values():
        assert {n["follow_up_id"] for n in inbox} == {created["id"]}
        assert all("Board meeting" in n["message"] for n in inbox)
        assert all(n["read_at"] is None for n in inbox)
        assert [n["id"] for n in inbox] == sorted((n["id"] for n in inbox), reverse=True)
    assert "accepted" in inboxes["owner"][1]["message"]


@pytest.mark.parametrize("answer", ["accepted", "declined", "tentative"])
async def test_every_answer_notifies_the_organizer(admin: Caller, answer: str) -> None:
    owner = await admin.new_member()
    colleague = await admin.new_member()
    created = await book(owner, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]

    await respond(colleague, invitation, answer, "Noted")
    ok(await colleague.post(f"/v1/invitations/{invitation}/seen"))

    (told,) = await notifications(owner)
    assert (told["kind"], told["participant_id"], told["actor_id"]) == (
        "responded",
        invitation,
        colleague.subject,
    )
    assert answer in told["message"]
    assert "Ada Jensen" in told["message"]  # the colleague's name, not their id
    assert summary(await notifications(colleague)) == [("invited", invitation)]


async def test_a_cancel_tells_everyone_invited_whatever_their_answer(admin: Caller) -> None:
    owner = await admin.new_member()
    invited = [await admin.new_member() for _ in range(3)]
    created = await book(owner, *invited)
    for colleague, answer in zip(invited[1:], ["accepted", "declined"], strict=True):
        mine = participant(created, associate_id=colleague.subject)["id"]
        await respond(colleague, mine, answer)

    ok(await owner.post(f"/v1/follow-ups/{created['id']}/cancel", json={}))

    for colleague in invited:
        assert [n["kind"] for n in await notifications(colleague)] == ["cancelled", "invited"]
    assert {n["kind"] for n in await notifications(owner)} == {"responded"}


async def test_unread_filter_and_mark_read_is_idempotent(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    for title in ("First", "Second", "Third"):
        await book(member, colleague, title=title)
    newest, middle, oldest = await notifications(colleague)
    started = datetime.now(UTC)

    first = ok(await colleague.post(f"/v1/notifications/{middle['id']}/read"))
    second = ok(await colleague.post(f"/v1/notifications/{middle['id']}/read"))

    assert first == {**middle, "read_at": first["read_at"]}
    assert started <= datetime.fromisoformat(first["read_at"]) <= datetime.now(UTC)
    assert second == first
    assert [n["id"] for n in await notifications(colleague, unread="true")] == [
        newest["id"],
        oldest["id"],
    ]
    assert await notifications(colleague, unread="false") == [first]
    assert await notifications(colleague) == [newest, first, oldest]


async def test_pages_walk_the_inbox_newest_first(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member()
    for n in range(5):
        await book(member, colleague, title=f"Meeting {n}")
    everything = await notifications(colleague)

    walked: list[Body] = []
    cursor = None
    for _ in everything:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await colleague.get("/v1/notifications", params=params))
        walked += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert walked == everything
    assert [n["message"] for n in walked] == [
        f"You are invited to Meeting {n}" for n in range(4, -1, -1)
    ]
