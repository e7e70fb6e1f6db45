"""GET /v1/availability: each calendar's busy or tentative blocks, who sees ids, free time."""

from datetime import datetime, timedelta
from typing import Any

from app.availability import schemas
from tests.availability.support import (
    Body,
    Span,
    at,
    availability,
    book,
    iso,
    participant,
    room,
    spans,
    view,
    when,
)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok

Block = tuple[datetime, datetime, str, str | None]


def blocks(found: Body) -> dict[str, list[Block]]:
    """Each calendar's busy blocks as (start, end, status, follow_up_id), in the given order."""
    shown: dict[str, list[Block]] = {}
    for calendar in found["calendars"]:
        assert set(calendar) == {"kind", "id", "name", "busy"}
        shown[calendar["id"]] = [
            (when(b["start_at"]), when(b["end_at"]), b["status"], b["follow_up_id"])
            for b in calendar["busy"]
        ]
    return shown


def free(found: Body) -> list[Span]:
    return spans(found["free"])


async def answer(invitee: Caller, follow_up: Body, status: str) -> None:
    invitation = participant(follow_up, associate_id=invitee.subject)["id"]
    ok(await invitee.post(f"/v1/invitations/{invitation}/response", json={"status": status}))


async def test_each_answer_shows_as_busy_tentative_or_nothing(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    unanswered, accepted, tentative, declined, seen = [
        await admin.new_member(name=name) for name in ("Una", "Acce", "Tent", "Decl", "Seen")
    ]
    stranger = await admin.new_member(name="Sten Stranger")
    shared = await room(admin)
    invited = [unanswered, accepted, tentative, declined, seen]
    follow_up = await book(organizer, at(9), at(10), invite=invited, resources=[shared])
    await answer(accepted, follow_up, "accepted")
    await answer(tentative, follow_up, "tentative")
    await answer(declined, follow_up, "declined")
    invitation = participant(follow_up, associate_id=seen.subject)["id"]
    ok(await seen.post(f"/v1/invitations/{invitation}/seen"))
    people = [organizer, *invited]
    expected = {
        organizer.subject: "busy",
        unanswered.subject: "tentative",
        accepted.subject: "busy",
        tentative.subject: "tentative",
        seen.subject: "tentative",
        shared: "busy",
    }

    # Declined is a participant too, so it sees the follow-up (and may open it).
    ok(await declined.get(f"/v1/follow-ups/{follow_up['id']}"))
    for viewer, shown_id in (
        (stranger, None),
        (admin, None),
        (organizer, follow_up["id"]),
        (unanswered, follow_up["id"]),
        (declined, follow_up["id"]),
    ):
        found = await availability(viewer, at(8), at(12), associates=people, resources=[shared])
        assert [(c["kind"], c["id"]) for c in found["calendars"]] == [
            *(("associate", p.subject) for p in people),
            ("resource", shared),
        ]
        assert blocks(found) == {
            calendar: [(at(9), at(10), expected[calendar], shown_id)]
            if calendar in expected
            else []
            for calendar in [*(p.subject for p in people), shared]
        }, viewer
        assert free(found) == [(at(8), at(9)), (at(10), at(12))]


async def test_hidden_follow_ups_merge_and_visible_ones_keep_their_ids(admin: Caller) -> None:
    owner = await admin.new_member(name="Olga Owner")
    inviter = await admin.new_member(name="Pia Inviter")
    stranger = await admin.new_member(name="Sten Stranger")
    one = await book(owner, at(9), at(10))
    two = await book(owner, at(9, 30), at(11))
    three = await book(owner, at(11), at(12))  # touches two: merged with it when hidden
    maybe = await book(inviter, at(13), at(14), invite=[owner])
    sure = await book(inviter, at(13, 30), at(15), invite=[owner])
    await answer(owner, sure, "accepted")

    found = await availability(stranger, at(8), at(16), associates=[owner])
    assert blocks(found)[owner.subject] == [
        (at(9), at(12), "busy", None),
        (at(13), at(14), "tentative", None),
        (at(13, 30), at(15), "busy", None),
    ]
    assert free(found) == [(at(8), at(9)), (at(12), at(13)), (at(15), at(16))]

    found = await availability(owner, at(8), at(16), associates=[owner])
    assert blocks(found)[owner.subject] == [
        (at(9), at(10), "busy", one["id"]),
        (at(9, 30), at(11), "busy", two["id"]),
        (at(11), at(12), "busy", three["id"]),
        (at(13), at(14), "tentative", maybe["id"]),
        (at(13, 30), at(15), "busy", sure["id"]),
    ]
    assert free(found) == [(at(8), at(9)), (at(12), at(13)), (at(15), at(16))]

    # The inviter sees its own two with ids, the owner's others merged without.
    found = await availability(inviter, at(8), at(16), associates=[owner])
    assert blocks(found)[owner.subject] == [
        (at(9), at(12), "busy", None),
        (at(13), at(14), "tentative", maybe["id"]),
        (at(13, 30), at(15), "busy", sure["id"]),
    ]


async def test_blocks_are_clipped_to_the_window(admin: Caller) -> None:
    owner = await admin.new_member()
    stranger = await admin.new_member()
    long = await book(owner, at(9), at(11))
    await book(owner, at(8), at(9, 30))  # ends before the window starts
    await book(owner, at(10, 30), at(12))  # starts when the window ends

    for viewer, shown_id in ((owner, long["id"]), (stranger, None)):
        found = await availability(viewer, at(9, 30), at(10, 30), associates=[owner])
        assert blocks(found) == {owner.subject: [(at(9, 30), at(10, 30), "busy", shown_id)]}
        assert free(found) == []

    found = await availability(stranger, at(12), at(13), associates=[owner])
    assert blocks(found) == {owner.subject: []}
    assert free(found) == [(at(12), at(13))]


async def test_free_is_the_window_minus_every_calendars_busy_time(admin: Caller) -> None:
    first, second = await admin.new_member(), await admin.new_member()
    viewer = await admin.new_member()
    shared = await room(admin)
    cancelled = await book(first, at(8), at(17))
    ok(await first.post(f"/v1/follow-ups/{cancelled['id']}/cancel"))
    await book(first, at(9), at(10))
    await book(second, at(9, 30), at(10, 30))
    await book(second, at(12), at(13), resources=[shared])
    own = await book(viewer, at(14), at(15), resources=[shared])

    found = await availability(
        viewer, at(8), at(16), associates=[first, second], resources=[shared]
    )

    assert blocks(found) == {
        first.subject: [(at(9), at(10), "busy", None)],
        second.subject: [(at(9, 30), at(10, 30), "busy", None), (at(12), at(13), "busy", None)],
        shared: [(at(12), at(13), "busy", None), (at(14), at(15), "busy", own["id"])],
    }
    assert free(found) == [(at(8), at(9)), (at(10, 30), at(12)), (at(13), at(14)), (at(15), at(16))]


async def test_a_cancelled_follow_up_shows_nowhere(admin: Caller) -> None:
    owner, invitee = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    follow_up = await book(owner, at(9), at(10), invite=[invitee], resources=[shared])
    ok(await owner.post(f"/v1/follow-ups/{follow_up['id']}/cancel"))

    found = await availability(
        owner, at(8), at(12), associates=[owner, invitee], resources=[shared]
    )

    assert blocks(found) == {owner.subject: [], invitee.subject: [], shared: []}
    assert free(found) == [(at(8), at(12))]


async def test_a_calendar_named_twice_is_listed_once(admin: Caller) -> None:
    owner = await admin.new_member()
    await book(owner, at(9), at(10))

    found = await availability(owner, at(8), at(12), associates=[owner, owner])

    assert [c["id"] for c in found["calendars"]] == [owner.subject]
    assert len(found["calendars"][0]["busy"]) == 1


async def test_times_come_back_with_an_offset(admin: Caller) -> None:
    owner = await admin.new_member()
    await book(owner, at(9), at(10))
    copenhagen = datetime.fromisoformat("2026-05-04T10:00:00+02:00")  # 08:00 UTC

    found = await availability(
        owner, copenhagen, copenhagen + timedelta(hours=4), associates=[owner]
    )

    (calendar,) = found["calendars"]
    (block,) = calendar["busy"]
    assert (when(block["start_at"]), when(block["end_at"])) == (at(9), at(10))
    assert free(found) == [(at(8), at(9)), (at(10), at(12))]


async def test_busy_time_follows_moves_and_removals(admin: Caller) -> None:
    owner, invitee = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    follow_up = await book(owner, at(9), at(10), invite=[invitee], resources=[shared])
    await answer(invitee, follow_up, "declined")
    calendars: dict[str, Any] = {"associates": [owner, invitee], "resources": [shared]}
    before = await availability(owner, at(8), at(13), **calendars)
    assert blocks(before)[invitee.subject] == []

    etag = (await owner.get(f"/v1/follow-ups/{follow_up['id']}")).headers["ETag"]
    moved = await owner.patch(
        f"/v1/follow-ups/{follow_up['id']}",
        json={"start_at": iso(at(11)), "end_at": iso(at(12))},
        headers={"If-Match": etag},
    )
    ok(moved)

    # The move asks the invitee again: unanswered, so tentative.
    after = await availability(owner, at(8), at(13), **calendars)
    id_ = follow_up["id"]
    assert blocks(after) == {
        owner.subject: [(at(11), at(12), "busy", id_)],
        invitee.subject: [(at(11), at(12), "tentative", id_)],
        shared: [(at(11), at(12), "busy", id_)],
    }
    assert free(after) == [(at(8), at(11)), (at(12), at(13))]

    current = await view(owner, id_)
    for found in (
        participant(current, associate_id=invitee.subject),
        participant(current, resource_id=shared),
    ):
        removed = await owner.delete(f"/v1/follow-ups/{id_}/participants/{found['id']}")
        assert removed.status_code == 204, removed.text
    final = await availability(owner, at(8), at(13), **calendars)
    assert blocks(final) == {
        owner.subject: [(at(11), at(12), "busy", id_)],
        invitee.subject: [],
        shared: [],
    }


async def test_the_body_is_exactly_what_the_response_model_writes(admin: Caller) -> None:
    """The JSON comes from the database: compact, keys in field order, UTC with `Z`."""
    owner, inviter = await admin.new_member(), await admin.new_member()
    shared = await room(admin)
    await book(owner, at(9), at(10), resources=[shared])
    await book(inviter, at(9), at(11), invite=[owner])  # hidden: tentative, same start
    await book(owner, at(10), at(10, 30))  # touches the first: merged with it
    calendars = {"associates": [owner, inviter], "resources": [shared]}

    for viewer in (admin, owner, inviter):
        response = await viewer.get(
            "/v1/availability",
            params=[
                *(("associate_ids", c.subject) for c in calendars["associates"]),
                ("resource_ids", shared),
                ("start", "2026-05-04T10:00:00+02:00"),
                ("end", "2026-05-04T16:00:00+02:00"),
            ],
        )
        ok(response)
        assert response.headers["content-type"] == "application/json"
        model = schemas.Availability.model_validate_json(response.content)
        assert response.content == model.__pydantic_serializer__.to_json(model)
        assert b'"start_at":"2026-05-04T08:00:00Z"' in response.content


async def test_blocks_starting_together_come_in_a_fixed_order(admin: Caller) -> None:
    owner, inviter, stranger = [await admin.new_member() for _ in range(3)]
    await book(inviter, at(9), at(11), invite=[owner])  # tentative for the owner
    await book(owner, at(9), at(10))
    first = await book(owner, at(12), at(13, 30))
    second = await book(owner, at(12), at(13))

    found = await availability(stranger, at(8), at(14), associates=[owner])
    assert blocks(found)[owner.subject] == [
        (at(9), at(10), "busy", None),
        (at(9), at(11), "tentative", None),
        (at(12), at(13, 30), "busy", None),
    ]
    found = await availability(owner, at(8), at(14), associates=[owner])
    assert blocks(found)[owner.subject][2:] == [
        (at(12), at(13), "busy", second["id"]),
        (at(12), at(13, 30), "busy", first["id"]),
    ]


async def test_window_edges_keep_their_microseconds(admin: Caller) -> None:
    owner = await admin.new_member()
    mine = await book(owner, at(9), at(10))
    start = at(9, 30) + timedelta(microseconds=250_000)
    end = at(12) + timedelta(microseconds=5)

    for viewer, shown_id in ((owner, mine["id"]), (admin, None)):
        response = await viewer.get(
            "/v1/availability",
            params=[("associate_ids", owner.subject), ("start", iso(start)), ("end", iso(end))],
        )
        found = ok(response)
        assert blocks(found) == {owner.subject: [(start, at(10), "busy", shown_id)]}
        assert free(found) == [(at(10), end)]
        assert b'"start_at":"2026-05-04T09:30:00.250000Z","end_at":"2026-05-04T10:00:00Z"' in (
            response.content
        )
        assert b'"end_at":"2026-05-04T12:00:00.000005Z"' in response.content


async def test_calendars_without_bookings_leave_the_window_free(admin: Caller) -> None:
    first, second = await admin.new_member(name="First"), await admin.new_member(name="Second")
    shared = await room(admin, name="Shared")
    await book(first, at(7), at(8))  # before the window

    found = await availability(first, at(8), at(9), associates=[second, first], resources=[shared])

    assert found == {
        "calendars": [
            {"kind": "associate", "id": second.subject, "name": "Second", "busy": []},
            {"kind": "associate", "id": first.subject, "name": "First", "busy": []},
            {"kind": "resource", "id": shared, "name": "Shared", "busy": []},
        ],
        "free": [{"start_at": "2026-05-04T08:00:00Z", "end_at": "2026-05-04T09:00:00Z"}],
    }


async def test_a_window_in_another_time_zone_is_answered_in_utc(admin: Caller) -> None:
    owner = await admin.new_member()
    await book(owner, at(22), at(23, 30))  # 03:30 to 05:00 the next day in Kolkata
    kolkata = datetime.fromisoformat("2026-05-05T04:00:00+05:30")  # 22:30 UTC

    found = await availability(admin, kolkata, kolkata + timedelta(hours=2), associates=[owner])

    (calendar,) = found["calendars"]
    assert calendar["busy"] == [
        {
            "start_at": "2026-05-04T22:30:00Z",
            "end_at": "2026-05-04T23:30:00Z",
            "status": "busy",
            "follow_up_id": None,
        }
    ]
    assert found["free"] == [{"start_at": "2026-05-04T23:30:00Z", "end_at": "2026-05-05T00:30:00Z"}]
