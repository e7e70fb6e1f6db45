"""Conflict flags and first_free_at on participants, right on both sides after every change."""

from dataclasses import dataclass
from datetime import datetime

import pytest

from tests.availability.support import Body, at, book, iso, participant, room, view, when
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.followups.support import patch


async def answer(invitee: Caller, follow_up: Body, status: str) -> None:
    invitation = participant(follow_up, associate_id=invitee.subject)["id"]
    ok(await invitee.post(f"/v1/invitations/{invitation}/response", json={"status": status}))


def flags(follow_up: Body) -> dict[str, bool]:
    """Each participant's conflict flag by its associate or resource id."""
    return {p["associate_id"] or p["resource_id"]: p["conflict"] for p in follow_up["participants"]}


@dataclass
class Pair:
    """Two follow-ups of different organizers that share a room, 10:00-11:00 and 10:30-11:30."""

    shared: str
    owners: tuple[Caller, Caller]
    ids: tuple[str, str]

    async def views(self) -> list[Body]:
        return [await view(owner, id_) for owner, id_ in zip(self.owners, self.ids, strict=True)]


@pytest.fixture
async def pair(admin: Caller) -> Pair:
    shared = await room(admin, name="Shared")
    first, second = await admin.new_member(name="Olga"), await admin.new_member(name="Pia")
    one = await book(first, at(10), at(11), resources=[shared])
    two = await book(second, at(10, 30), at(11, 30), resources=[shared])
    return Pair(shared, (first, second), (one["id"], two["id"]))


async def test_both_follow_ups_sharing_a_room_show_the_conflict(pair: Pair) -> None:
    for follow_up, owner in zip(await pair.views(), pair.owners, strict=True):
        assert follow_up["has_conflict"] is True
        assert flags(follow_up) == {owner.subject: False, pair.shared: True}
        shared = participant(follow_up, resource_id=pair.shared)
        assert shared["first_free_at"] is not None
        listed = ok(await owner.get(f"/v1/follow-ups/{follow_up['id']}/participants"))
        assert listed == follow_up["participants"]


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("change", ["move", "cancel", "remove"])
async def test_the_conflict_clears_on_both_when_either_changes(
    pair: Pair, which: int, change: str
) -> None:
    owner, follow_up_id = pair.owners[which], pair.ids[which]
    if change == "move":
        ok(await patch(owner, follow_up_id, {"start_at": iso(at(13)), "end_at": iso(at(14))}))
    elif change == "cancel":
        ok(await owner.post(f"/v1/follow-ups/{follow_up_id}/cancel"))
    else:
        shared = participant(await view(owner, follow_up_id), resource_id=pair.shared)
        response = await owner.delete(f"/v1/follow-ups/{follow_up_id}/participants/{shared['id']}")
        assert response.status_code == 204, response.text

    for follow_up in await pair.views():
        assert follow_up["has_conflict"] is False
        assert not any(flags(follow_up).values())
        assert all(p["first_free_at"] is None for p in follow_up["participants"])


async def test_moving_into_a_booked_time_flags_both(admin: Caller) -> None:
    shared = await room(admin)
    first, second = await admin.new_member(), await admin.new_member()
    one = await book(first, at(10), at(11), resources=[shared])
    two = await book(second, at(11), at(12), resources=[shared])
    assert not (await view(first, one["id"]))["has_conflict"]

    moved = ok(await patch(second, two["id"], {"start_at": iso(at(10, 59))}))

    assert participant(moved, resource_id=shared)["conflict"] is True
    assert participant(await view(first, one["id"]), resource_id=shared)["conflict"] is True


async def test_adding_a_busy_colleague_flags_them_on_both(admin: Caller) -> None:
    first, second = await admin.new_member(), await admin.new_member()
    one = await book(first, at(10), at(11))
    two = await book(second, at(10, 30), at(11, 30))

    added = ok(
        await second.post(
            f"/v1/follow-ups/{two['id']}/participants", json={"associate_id": first.subject}
        ),
        201,
    )

    assert added["conflict"] is True
    assert added["first_free_at"] is None  # only resources say when they are free
    assert flags(await view(first, one["id"])) == {first.subject: True}
    assert flags(await view(second, two["id"])) == {second.subject: False, first.subject: True}


async def test_a_declined_invitee_is_not_conflicted(admin: Caller) -> None:
    organizer, other, invitee = [await admin.new_member() for _ in range(3)]
    mine = await book(organizer, at(10), at(11), invite=[invitee])
    theirs = await book(other, at(10, 30), at(11, 30), invite=[invitee])
    # Unanswered invitations block time (tentatively): a conflict on both.
    assert flags(await view(organizer, mine["id"]))[invitee.subject] is True
    assert flags(await view(other, theirs["id"]))[invitee.subject] is True

    await answer(invitee, theirs, "declined")

    assert flags(await view(organizer, mine["id"]))[invitee.subject] is False
    assert flags(await view(other, theirs["id"]))[invitee.subject] is False
    assert (await view(invitee, theirs["id"]))["has_conflict"] is False

    for status in ("tentative", "accepted"):
        await answer(invitee, theirs, status)
        assert flags(await view(organizer, mine["id"]))[invitee.subject] is True
        assert flags(await view(other, theirs["id"]))[invitee.subject] is True


async def test_an_organizer_booked_twice_is_conflicted_on_both(admin: Caller) -> None:
    organizer = await admin.new_member()
    one = await book(organizer, at(10), at(11))
    two = await book(organizer, at(10, 45), at(12))
    three = await book(organizer, at(12), at(13))  # back to back: no conflict

    assert flags(await view(organizer, one["id"])) == {organizer.subject: True}
    assert flags(await view(organizer, two["id"])) == {organizer.subject: True}
    assert flags(await view(organizer, three["id"])) == {organizer.subject: False}


async def test_first_free_at_waits_for_every_participant_that_blocks_time(admin: Caller) -> None:
    """A conflicted room's first_free_at: the first start when all the follow-up blocks is free.

    The room is busy 10-11 elsewhere, the invitee 11-12 elsewhere; the follow-up, 10:30-11:30,
    does not count against itself.
    """
    shared, spare = await room(admin, name="Shared"), await room(admin, name="Spare")
    organizer, invitee = await admin.new_member(), await admin.new_member()
    third, fourth = await admin.new_member(), await admin.new_member()
    await book(third, at(10), at(11), resources=[shared])
    elsewhere = await book(fourth, at(11), at(12), invite=[invitee])
    follow_up = await book(
        organizer, at(10, 30), at(11, 30), invite=[invitee], resources=[shared, spare]
    )

    def check(found: Body, invitee_conflict: bool, free_at: datetime) -> None:
        assert flags(found) == {
            organizer.subject: False,
            invitee.subject: invitee_conflict,
            shared: True,
            spare: False,
        }
        assert when(participant(found, resource_id=shared)["first_free_at"]) == free_at
        others = [p for p in found["participants"] if p["resource_id"] != shared]
        assert all(p["first_free_at"] is None for p in others)

    check(follow_up, True, at(12))
    check(await view(organizer, follow_up["id"]), True, at(12))

    # Once the invitee declines the other meeting, the room's end at 11:00 is the answer
    # (not 11:30, when this follow-up's own booking ends).
    await answer(invitee, elsewhere, "declined")
    check(await view(organizer, follow_up["id"]), False, at(11))

    # A declined invitee of this follow-up blocks nothing, whatever else they have.
    await answer(invitee, elsewhere, "accepted")
    check(await view(organizer, follow_up["id"]), True, at(12))
    await answer(invitee, follow_up, "declined")
    check(await view(organizer, follow_up["id"]), False, at(11))


async def test_first_free_at_counts_the_organizers_other_follow_ups(admin: Caller) -> None:
    shared = await room(admin)
    organizer, other = await admin.new_member(), await admin.new_member()
    await book(other, at(9), at(10), resources=[shared])
    await book(organizer, at(10), at(10, 30))
    await book(organizer, at(11), at(13))
    # Busy for the room 9-10, for the organizer 10-10:30 and 11-13: an hour first fits at 13.
    follow_up = await book(organizer, at(9, 30), at(10, 30), resources=[shared])

    assert when(participant(follow_up, resource_id=shared)["first_free_at"]) == at(13)


async def test_first_free_at_is_never_before_the_follow_ups_start(admin: Caller) -> None:
    shared = await room(admin)
    organizer, other = await admin.new_member(), await admin.new_member()
    await book(other, at(12), at(13), resources=[shared])
    # Free all morning, but the follow-up starts at 12:30: the first start is 13:00.
    follow_up = await book(organizer, at(12, 30), at(13), resources=[shared])

    assert when(participant(follow_up, resource_id=shared)["first_free_at"]) == at(13)
