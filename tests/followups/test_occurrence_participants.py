"""One occurrence with other participants: someone added to it alone, or taken off it.

Bookings (seen through free/busy), the diary, the inbox, answers, the .ics, and what keeps
them: the series job booking further, a moved occurrence, a split, a series-wide change.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar, Event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.followups.series import extend_due
from app.models import Booking, Participant
from tests.calendars.test_ics import attendees_by_address, ics_url, parsed
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import etag_of, fetch, items, notifications, participant

# Mondays ahead of now, so that the inbox shows the next occurrence.
START = datetime(2027, 5, 3, 8, tzinfo=UTC)
WEEK = timedelta(days=7)
FIRST, SECOND, THIRD, FOURTH = (START + n * WEEK for n in range(4))
WINDOW = {"start": START.isoformat(), "end": (START + 5 * WEEK).isoformat()}
Body = dict[str, Any]


def occurrence_url(follow_up_id: str, original_start: datetime) -> str:
    return f"/v1/follow-ups/{follow_up_id}/occurrences/{original_start.isoformat()}"


async def add_to(
    organizer: Caller, follow_up_id: str, original_start: datetime, ref: Body
) -> httpx.Response:
    """POST the reference to the occurrence's participants, with the follow-up's ETag."""
    etag = await etag_of(organizer, follow_up_id)
    return await organizer.post(
        f"{occurrence_url(follow_up_id, original_start)}/participants",
        json=ref,
        headers={"If-Match": etag},
    )


async def take_off(
    organizer: Caller, follow_up_id: str, original_start: datetime, participant_id: str
) -> httpx.Response:
    """DELETE the participant from the occurrence, with the follow-up's ETag."""
    etag = await etag_of(organizer, follow_up_id)
    return await organizer.delete(
        f"{occurrence_url(follow_up_id, original_start)}/participants/{participant_id}",
        headers={"If-Match": etag},
    )


async def weekly(organizer: Caller, *invited: Caller, rule: str = "FREQ=WEEKLY;COUNT=4") -> Body:
    """A weekly series of the organizer's, from START, with these colleagues invited."""
    return await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": rule},
            "participants": [{"associate_id": c.subject} for c in invited],
        },
    )


async def busy(caller: Caller, *, associate: str = "", resource: str = "") -> list[datetime]:
    """The starts of the calendar's busy blocks in WINDOW, as free/busy shows them."""
    key, value = ("associate_ids", associate) if associate else ("resource_ids", resource)
    found = ok(await caller.get("/v1/availability", params={key: value, **WINDOW}))
    (calendar,) = found["calendars"]
    return [datetime.fromisoformat(b["start_at"]) for b in calendar["busy"]]


async def diary(caller: Caller) -> list[datetime]:
    """The occurrence starts in the caller's diary over WINDOW."""
    return [
        datetime.fromisoformat(entry["occurrence_start"])
        for entry in await items(caller, "/v1/follow-ups", **WINDOW)
    ]


def by_occurrence(calendar: Calendar) -> dict[datetime | None, Event]:
    """The VEVENTs by RECURRENCE-ID (in UTC; None for the series' own)."""
    found: dict[datetime | None, Event] = {}
    for event in calendar.walk("VEVENT"):
        rid = event.decoded("RECURRENCE-ID").astimezone(UTC) if "RECURRENCE-ID" in event else None
        assert rid not in found
        found[rid] = event
    return found


def listed(follow_up: Body, associate_id: str) -> Body:
    """The colleague as the follow-up lists them, with its lists by occurrence."""
    (found,) = [p for p in follow_up["participants"] if p["associate_id"] == associate_id]
    return found


def names(event: Event) -> set[str]:
    return {params["CN"] for params in attendees_by_address(event).values()}


async def events_of(connection: AsyncConnection, follow_up_id: str, type_: str) -> list[Body]:
    from app.models import Event as EventRow

    rows = await connection.execute(
        select(EventRow.data)
        .where(EventRow.follow_up_id == uuid.UUID(follow_up_id), EventRow.type == type_)
        .order_by(EventRow.seq)
    )
    return [row for (row,) in rows.all()]


async def test_a_colleague_added_to_one_occurrence_takes_part_in_it_alone(
    admin: Caller, connection: AsyncConnection
) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    guest = await admin.new_member(name="Gina Guest")
    created = await weekly(organizer, colleague)

    response = await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject})

    added = ok(response, 201)
    assert response.headers["ETag"] == await etag_of(organizer, created["id"])
    assert (added["associate_id"], added["status"]) == (guest.subject, "not_read")
    assert datetime.fromisoformat(added["only_occurrence"]) == SECOND
    shown = listed(await fetch(organizer, created["id"]), guest.subject)
    assert shown == {**added, "occurrence_answers": [], "excluded_occurrences": []}
    # Busy at that occurrence alone; the series' colleague at every one.
    assert await busy(organizer, associate=guest.subject) == [SECOND]
    assert await busy(organizer, associate=colleague.subject) == [FIRST, SECOND, THIRD, FOURTH]
    assert await diary(guest) == [SECOND]
    (invitation,) = await items(guest, "/v1/invitations")
    assert invitation["id"] == added["id"]
    assert datetime.fromisoformat(invitation["next_occurrence"]["occurrence_start"]) == SECOND
    assert [n["kind"] for n in await notifications(guest)] == ["invited"]
    (event,) = await events_of(connection, created["id"], "participant.added")
    assert (event["participant_id"], event["associate_id"]) == (added["id"], guest.subject)
    assert datetime.fromisoformat(event["occurrence_start"]) == SECOND


async def test_a_colleague_taken_off_one_occurrence_keeps_the_others(
    admin: Caller, connection: AsyncConnection
) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    created = await weekly(organizer, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]

    response = await take_off(organizer, created["id"], THIRD, invitation)

    assert response.status_code == 204, response.text
    assert response.headers["ETag"] == await etag_of(organizer, created["id"])
    shown = listed(await fetch(organizer, created["id"]), colleague.subject)
    assert [datetime.fromisoformat(t) for t in shown["excluded_occurrences"]] == [THIRD]
    assert shown["only_occurrence"] is None
    assert await busy(organizer, associate=colleague.subject) == [FIRST, SECOND, FOURTH]
    assert await diary(colleague) == [FIRST, SECOND, FOURTH]
    assert [n["kind"] for n in await notifications(colleague)] == ["removed", "invited"]
    (event,) = await events_of(connection, created["id"], "participant.removed")
    assert event["participant_id"] == invitation
    assert datetime.fromisoformat(event["occurrence_start"]) == THIRD

    # Added back to that occurrence, they take part in every one again.
    back = ok(
        await add_to(organizer, created["id"], THIRD, {"associate_id": colleague.subject}), 201
    )

    assert (back["id"], back["only_occurrence"]) == (invitation, None)
    shown = listed(await fetch(organizer, created["id"]), colleague.subject)
    assert shown["excluded_occurrences"] == []
    assert await busy(organizer, associate=colleague.subject) == [FIRST, SECOND, THIRD, FOURTH]


async def test_an_occurrence_only_participant_taken_off_it_is_gone(admin: Caller) -> None:
    organizer = await admin.new_member()
    guest = await admin.new_member()
    room = await create_resource(admin)
    created = await weekly(organizer)
    added = ok(await add_to(organizer, created["id"], SECOND, {"resource_id": room["id"]}), 201)
    assert added["status"] == "accepted"
    assert await busy(organizer, resource=room["id"]) == [SECOND]
    ok(await add_to(organizer, created["id"], FOURTH, {"associate_id": guest.subject}), 201)

    response = await take_off(organizer, created["id"], SECOND, added["id"])

    assert response.status_code == 204, response.text
    listed = (await fetch(organizer, created["id"]))["participants"]
    assert added["id"] not in {p["id"] for p in listed}
    assert await busy(organizer, resource=room["id"]) == []
    assert await busy(organizer, associate=guest.subject) == [FOURTH]


async def test_an_occurrence_only_invitee_answers_for_their_occurrence(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    created = await weekly(organizer, colleague)
    added = ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)

    accepted = ok(
        await guest.post(f"/v1/invitations/{added['id']}/response", json={"status": "accepted"})
    )
    assert accepted["status"] == "accepted"
    # Answering the whole invitation books nothing but their occurrence.
    assert await busy(organizer, associate=guest.subject) == [SECOND]
    ok(await guest.post(f"/v1/invitations/{added['id']}/response", json={"status": "declined"}))
    assert await busy(organizer, associate=guest.subject) == []
    # A series colleague taken off one occurrence is not booked there by a series answer.
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], FOURTH, invitation)).status_code == 204
    ok(await colleague.post(f"/v1/invitations/{invitation}/response", json={"status": "accepted"}))
    assert await busy(organizer, associate=colleague.subject) == [FIRST, SECOND, THIRD]
    # An occurrence they take no part in is not theirs to answer.
    for caller, participant_id, occurrence in (
        (guest, added["id"], THIRD),
        (colleague, invitation, FOURTH),
    ):
        refused = await caller.post(
            f"/v1/invitations/{participant_id}/response",
            json={"status": "accepted", "occurrence": occurrence.isoformat()},
        )
        assert_problem(refused, 422, "unknown_occurrence")
    ok(
        await guest.post(
            f"/v1/invitations/{added['id']}/response",
            json={"status": "tentative", "occurrence": SECOND.isoformat()},
        )
    )
    assert await busy(organizer, associate=guest.subject) == [SECOND]


async def test_the_ics_gives_the_occurrence_its_own_attendees(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    guest = await admin.new_member(name="Gina Guest")
    created = await weekly(organizer, colleague)
    ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], THIRD, invitation)).status_code == 204

    events = by_occurrence(parsed(await organizer.get(ics_url(created["id"]))))

    assert set(events) == {None, SECOND, THIRD}
    assert names(events[None]) == {"Olga Organizer", "Carl Colleague"}
    assert names(events[SECOND]) == {"Olga Organizer", "Carl Colleague", "Gina Guest"}
    assert names(events[THIRD]) == {"Olga Organizer"}
    for occurrence in (SECOND, THIRD):
        assert events[occurrence]["UID"] == events[None]["UID"]
        assert events[occurrence].start.astimezone(UTC) == occurrence
    # The guest's feed holds their occurrence alone.
    feed = ok(await guest.post("/v1/feeds", json={"past_days": 366, "future_days": 366}), 201)
    path = feed["url"].split("/v1/", 1)[1]
    in_feed = by_occurrence(parsed(await guest.client.get(f"/v1/{path}")))
    assert set(in_feed) == {SECOND}
    assert in_feed[SECOND]["TRANSP"] == "OPAQUE"


async def test_moving_the_occurrence_keeps_its_participants(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    created = await weekly(organizer, colleague)
    late = await admin.new_member()
    ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)
    ok(await add_to(organizer, created["id"], FOURTH, {"associate_id": late.subject}), 201)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], SECOND, invitation)).status_code == 204
    later = SECOND + timedelta(hours=3)
    etag = await etag_of(organizer, created["id"])

    ok(
        await organizer.patch(
            occurrence_url(created["id"], SECOND),
            json={
                "start_at": later.isoformat(),
                "end_at": (later + timedelta(hours=1)).isoformat(),
            },
            headers={"If-Match": etag},
        )
    )

    assert await busy(organizer, associate=guest.subject) == [later]
    assert await busy(organizer, associate=colleague.subject) == [FIRST, THIRD, FOURTH]
    # Told: those of the series and the one added to it; not one added to another.
    assert [n["kind"] for n in await notifications(guest)] == ["rescheduled", "invited"]
    assert [n["kind"] for n in await notifications(late)] == ["invited"]
    answers = listed(await fetch(organizer, created["id"]), colleague.subject)
    assert answers["occurrence_answers"] == []  # not asked again about one they are not in


async def test_the_series_job_keeps_exclusions_and_books_no_one_else_ahead(
    admin: Caller, connection: AsyncConnection
) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    start = datetime.now(ZoneInfo("Europe/Copenhagen")).replace(
        hour=9, minute=0, second=0, microsecond=0
    ) + timedelta(days=1)
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Daily",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(hours=1)).isoformat(),
            "time_zone": "Europe/Copenhagen",
            "recurrence": {"rrule": "FREQ=DAILY"},
            "participants": [{"associate_id": colleague.subject}],
        },
    )
    second = start + timedelta(days=1)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], second, invitation)).status_code == 204
    added = ok(await add_to(organizer, created["id"], second, {"associate_id": guest.subject}), 201)

    async def booked(participant_id: str) -> int:
        query = select(func.count()).where(Booking.participant_id == uuid.UUID(participant_id))
        return int(await connection.scalar(query) or 0)

    occurrences_before = await booked(participant(created, associate_id=organizer.subject)["id"])
    colleague_before = await booked(invitation)
    assert colleague_before == occurrences_before - 1

    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        assert await extend_due(session, batch=10, now=datetime.now(UTC) + timedelta(days=30)) >= 1
        await session.commit()

    occurrences_after = await booked(participant(created, associate_id=organizer.subject)["id"])
    assert occurrences_after > occurrences_before
    assert await booked(invitation) == occurrences_after - 1
    assert await booked(added["id"]) == 1
    at_second = select(func.count()).where(
        Booking.participant_id == uuid.UUID(invitation), Booking.occurrence_start == second
    )
    assert await connection.scalar(at_second) == 0


async def test_a_split_takes_the_changes_after_it_to_the_new_series(
    admin: Caller, connection: AsyncConnection
) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    late = await admin.new_member()
    created = await weekly(organizer, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)
    ok(await add_to(organizer, created["id"], FOURTH, {"associate_id": late.subject}), 201)
    assert (await take_off(organizer, created["id"], FOURTH, invitation)).status_code == 204
    etag = await etag_of(organizer, created["id"])

    response = await organizer.post(
        f"{occurrence_url(created['id'], THIRD)}/split", json={}, headers={"If-Match": etag}
    )

    new = ok(response, 201)
    old = await fetch(organizer, created["id"])
    assert {p["associate_id"] for p in old["participants"]} == {
        organizer.subject,
        colleague.subject,
        guest.subject,
    }
    assert listed(old, colleague.subject)["excluded_occurrences"] == []
    new = await fetch(organizer, new["id"])
    moved = listed(new, late.subject)
    assert datetime.fromisoformat(moved["only_occurrence"]) == FOURTH
    copy = listed(new, colleague.subject)
    assert [datetime.fromisoformat(t) for t in copy["excluded_occurrences"]] == [FOURTH]
    assert await busy(organizer, associate=colleague.subject) == [FIRST, SECOND, THIRD]
    assert await busy(organizer, associate=late.subject) == [FOURTH]
    assert await busy(organizer, associate=guest.subject) == [SECOND]
    in_new = select(func.count()).where(
        Participant.follow_up_id == uuid.UUID(new["id"]),
        Participant.associate_id == uuid.UUID(late.subject),
    )
    assert await connection.scalar(in_new) == 1


async def test_changing_the_series_drops_its_occurrence_participants(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    created = await weekly(organizer, colleague)
    ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], THIRD, invitation)).status_code == 204
    etag = await etag_of(organizer, created["id"])
    later = START + timedelta(hours=2)

    ok(
        await organizer.patch(
            f"/v1/follow-ups/{created['id']}",
            json={
                "start_at": later.isoformat(),
                "end_at": (later + timedelta(hours=1)).isoformat(),
            },
            headers={"If-Match": etag},
        )
    )

    shown = await fetch(organizer, created["id"])
    assert guest.subject not in {p["associate_id"] for p in shown["participants"]}
    assert listed(shown, colleague.subject)["excluded_occurrences"] == []
    assert len(await busy(organizer, associate=colleague.subject)) == 4
    assert await busy(organizer, associate=guest.subject) == []
    assert await items(guest, "/v1/invitations") == []


async def test_a_new_organizer_takes_part_in_every_occurrence(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    guest = await admin.new_member()
    created = await weekly(organizer, colleague)
    ok(await add_to(organizer, created["id"], SECOND, {"associate_id": guest.subject}), 201)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    assert (await take_off(organizer, created["id"], THIRD, invitation)).status_code == 204

    # The organizer hands it to the guest (added to one occurrence), who hands it to the
    # colleague (taken off one).
    for owner, new_owner in ((organizer, guest), (guest, colleague)):
        ok(
            await owner.post(
                f"/v1/follow-ups/{created['id']}/assign",
                json={"associate_id": new_owner.subject},
                headers={"If-Match": await etag_of(owner, created["id"])},
            )
        )
        shown = listed(await fetch(new_owner, created["id"]), new_owner.subject)
        assert (shown["role"], shown["only_occurrence"], shown["excluded_occurrences"]) == (
            "organizer",
            None,
            [],
        )
        assert await busy(new_owner, associate=new_owner.subject) == [FIRST, SECOND, THIRD, FOURTH]


async def test_a_split_with_a_new_time_drops_the_changes_after_it(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    late = await admin.new_member()
    created = await weekly(organizer, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    ok(await add_to(organizer, created["id"], FOURTH, {"associate_id": late.subject}), 201)
    assert (await take_off(organizer, created["id"], FOURTH, invitation)).status_code == 204
    etag = await etag_of(organizer, created["id"])
    later = THIRD + timedelta(hours=2)

    response = await organizer.post(
        f"{occurrence_url(created['id'], THIRD)}/split",
        json={"start_at": later.isoformat(), "end_at": (later + timedelta(hours=1)).isoformat()},
        headers={"If-Match": etag},
    )

    new = await fetch(organizer, ok(response, 201)["id"])
    assert late.subject not in {p["associate_id"] for p in new["participants"]}
    assert listed(new, colleague.subject)["excluded_occurrences"] == []
    old = await fetch(organizer, created["id"])
    assert late.subject not in {p["associate_id"] for p in old["participants"]}
    assert await busy(organizer, associate=late.subject) == []
    assert await busy(organizer, associate=colleague.subject) == [
        FIRST,
        SECOND,
        later,
        later + WEEK,
    ]
