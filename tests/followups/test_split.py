"""Splitting a series ("this and following"): rules divided, occurrences and bookings moved."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.followups.recurrence import split_rule
from app.models import Booking, Event, Occurrence
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import etag_of, notifications, participant, respond, tenant_rows

ZONE = ZoneInfo("Europe/Copenhagen")
Body = dict[str, Any]
# Monday 16 March 2026, 09:00 in Copenhagen; the clocks go forward on Sunday the 29th.
MONDAY = datetime(2026, 3, 16, 9, tzinfo=ZONE)


def _weekly(rule: str, **fields: Any) -> Body:
    return {
        "title": "Weekly planning",
        "start_at": MONDAY.isoformat(),
        "end_at": (MONDAY + timedelta(hours=1)).isoformat(),
        "time_zone": "Europe/Copenhagen",
        "recurrence": {"rrule": rule},
        **fields,
    }


def _week(n: int) -> datetime:
    """The n-th Monday of the series (0 is the first), 09:00 local, in UTC."""
    return (MONDAY + timedelta(weeks=n)).astimezone(UTC)


def _url(follow_up_id: str, original_start: datetime, action: str = "/split") -> str:
    return f"/v1/follow-ups/{follow_up_id}/occurrences/{original_start.isoformat()}{action}"


async def _split(caller: Caller, follow_up_id: str, at: datetime, body: Any = None) -> Any:
    etag = await etag_of(caller, follow_up_id)
    return await caller.post(_url(follow_up_id, at), json=body, headers={"If-Match": etag})


async def _count(connection: AsyncConnection, *where: Any) -> int:
    return int(await connection.scalar(select(func.count()).where(*where)) or 0)


async def _room_busy(caller: Caller, room_id: str) -> list[tuple[str, str | None]]:
    busy = ok(
        await caller.get(
            "/v1/availability",
            params={
                "resource_ids": room_id,
                "start": MONDAY.isoformat(),
                "end": (MONDAY + timedelta(days=70)).isoformat(),
            },
        )
    )
    (calendar,) = busy["calendars"]
    return [(b["start_at"], b.get("follow_up_id")) for b in calendar["busy"]]


def test_a_rule_is_divided_by_count_or_until() -> None:
    at = datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert split_rule("FREQ=WEEKLY;COUNT=6", 2, at) == (
        "FREQ=WEEKLY;COUNT=2",
        "FREQ=WEEKLY;COUNT=4",
    )
    assert split_rule("FREQ=WEEKLY;BYDAY=MO", 2, at) == (
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260330T065959Z",
        "FREQ=WEEKLY;BYDAY=MO",
    )
    late = "FREQ=DAILY;UNTIL=20261231T225959Z"
    assert split_rule(late, 9, at + timedelta(microseconds=500)) == (
        "FREQ=DAILY;UNTIL=20260330T070000Z",
        late,
    )


async def test_split_unchanged_moves_occurrences_answers_exceptions_and_bookings(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    colleague = await admin.new_member(name="Carl Colleague")
    room = await create_resource(admin, allow_double_booking=False)
    created = await member.create(
        "/v1/follow-ups",
        _weekly(
            "FREQ=WEEKLY;COUNT=6",
            participants=[{"associate_id": colleague.subject}, {"resource_id": room["id"]}],
        ),
    )
    series_id = created["id"]
    await respond(colleague, participant(created, associate_id=colleague.subject)["id"], "accepted")
    later = {
        "start_at": (_week(4) + timedelta(hours=3)).isoformat(),
        "end_at": (_week(4) + timedelta(hours=4)).isoformat(),
    }
    etag = await etag_of(member, series_id)
    ok(await member.patch(_url(series_id, _week(4), ""), json=later, headers={"If-Match": etag}))
    ok(await member.post(_url(series_id, _week(5), "/cancel")))
    busy_before = [start for start, _ in await _room_busy(member, room["id"])]

    response = await _split(member, series_id, _week(2))

    assert response.status_code == 201, response.text
    new = response.json()
    assert response.headers["Location"] == f"/v1/follow-ups/{new['id']}"
    assert response.headers["ETag"] == await etag_of(member, new["id"])
    assert new["id"] != series_id
    assert new["split_from"] == series_id
    assert new["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=4"}
    assert datetime.fromisoformat(new["start_at"]) == _week(2)
    assert participant(new, associate_id=colleague.subject)["status"] == "accepted"
    assert participant(new, resource_id=room["id"])["status"] == "accepted"
    original = ok(await member.get(f"/v1/follow-ups/{series_id}"))
    assert original["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=2"}
    assert original["split_from"] is None
    # The occurrences moved as they were: the moved one is still moved, the cancelled cancelled.
    rows = (
        await connection.execute(
            select(Occurrence.follow_up_id, Occurrence.overridden, Occurrence.cancelled)
            .where(Occurrence.tenant_id == member.tenant_id)
            .order_by(Occurrence.original_start)
        )
    ).all()
    old, moved = uuid.UUID(series_id), uuid.UUID(new["id"])
    assert [tuple(r) for r in rows] == [
        (old, False, False),
        (old, False, False),
        (moved, False, False),
        (moved, False, False),
        (moved, True, False),
        (moved, False, True),
    ]
    # The room is busy exactly as before, now by two follow-ups; the colleague's are accepted.
    busy = await _room_busy(member, room["id"])
    assert [start for start, _ in busy] == busy_before
    assert [follow_up for _, follow_up in busy] == [series_id] * 2 + [new["id"]] * 3
    # Accepted, but for the occurrence moved before the split: that one is to be answered
    # again (not_read, tentative), and its answer moved to the new follow-up's participant.
    tentative = Booking.follow_up_id == moved, Booking.tentative
    assert await _count(connection, *tentative) == 1
    assert await _count(connection, *tentative, Booking.occurrence_start == _week(4)) == 1
    diary = ok(
        await colleague.get(
            "/v1/follow-ups",
            params={"start": MONDAY.isoformat(), "end": (MONDAY + timedelta(days=60)).isoformat()},
        )
    )
    assert [e["id"] for e in diary["items"]] == [series_id] * 2 + [new["id"]] * 3
    assert [e["my_status"] for e in diary["items"]] == ["accepted"] * 4 + ["not_read"]
    # Nothing moved for the colleague: no notification of the split.
    assert not [n for n in await notifications(colleague) if n["follow_up_id"] == new["id"]]


async def test_split_with_a_new_time_across_dst_resets_answers_and_ends_the_rule_before(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    colleague = await admin.new_member(name="Carl Colleague")
    created = await member.create(
        "/v1/follow-ups",
        _weekly("FREQ=WEEKLY;BYDAY=MO", participants=[{"associate_id": colleague.subject}]),
    )
    series_id = created["id"]
    await respond(colleague, participant(created, associate_id=colleague.subject)["id"], "accepted")
    # Split at 30 March (09:00 summer time, 07:00 UTC), from then on at 10:00 local.
    ten = _week(2).astimezone(ZONE) + timedelta(hours=1)
    body = {"start_at": ten.isoformat(), "end_at": (ten + timedelta(minutes=30)).isoformat()}

    new = ok(await _split(member, series_id, _week(2), body), 201)

    original = ok(await member.get(f"/v1/follow-ups/{series_id}"))
    assert original["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260330T065959Z"}
    assert await _count(connection, Occurrence.follow_up_id == uuid.UUID(series_id)) == 2
    assert new["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=MO"}
    invitation = participant(new, associate_id=colleague.subject)
    assert (invitation["status"], invitation["rescheduled"]) == ("not_read", True)
    entries = ok(
        await member.get(
            "/v1/follow-ups",
            params={"start": MONDAY.isoformat(), "end": (MONDAY + timedelta(days=35)).isoformat()},
        )
    )["items"]
    local = [
        (datetime.fromisoformat(e["start_at"]).astimezone(ZONE).strftime("%d %H:%M"), e["id"])
        for e in entries
    ]
    assert local == [
        ("16 09:00", series_id),
        ("23 09:00", series_id),
        ("30 10:00", new["id"]),
        ("06 10:00", new["id"]),
        ("13 10:00", new["id"]),
    ]
    (told,) = [n for n in await notifications(colleague) if n["follow_up_id"] == new["id"]]
    assert told["kind"] == "rescheduled"
    # The original's .ics, expanded by dateutil, ends with the occurrence before the split.
    ics = await member.get(f"/v1/follow-ups/{series_id}.ics")
    (vevent,) = Calendar.from_ical(ics.content).walk("VEVENT")
    rule = rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=vevent.decoded("DTSTART"))
    assert [o.astimezone(UTC) for o in rule] == [_week(0), _week(1)]


async def test_a_strict_room_taken_at_the_new_time_is_409_and_changes_nothing(
    member: Caller, admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    room = await create_resource(admin, allow_double_booking=False)
    created = await member.create(
        "/v1/follow-ups", _weekly("FREQ=WEEKLY;COUNT=5", participants=[{"resource_id": room["id"]}])
    )
    blocker = _week(3) + timedelta(hours=1)
    taken = await member.create(
        "/v1/follow-ups",
        {
            "title": "Taken",
            "start_at": blocker.isoformat(),
            "end_at": (blocker + timedelta(hours=1)).isoformat(),
            "participants": [{"resource_id": room["id"]}],
        },
    )
    before = await tenant_rows(connection, tenant)
    bookings_before = await _count(connection, Booking.tenant_id == tenant)
    body = {
        "start_at": (_week(2) + timedelta(hours=1)).isoformat(),
        "end_at": (_week(2) + timedelta(hours=2)).isoformat(),
    }

    response = await _split(member, created["id"], _week(2), body)

    problem = assert_problem(response, 409, "resource_taken")
    (conflict,) = problem["conflicts"]
    assert conflict["follow_up_id"] == taken["id"]
    assert datetime.fromisoformat(conflict["occurrence_start"]) == blocker
    assert await tenant_rows(connection, tenant) == before
    assert await _count(connection, Booking.tenant_id == tenant) == bookings_before


async def test_split_records_the_split_and_the_creation(
    member: Caller, connection: AsyncConnection
) -> None:
    created = await member.create("/v1/follow-ups", _weekly("FREQ=WEEKLY;COUNT=4"))

    new = ok(await _split(member, created["id"], _week(1), {}), 201)

    rows = (
        await connection.execute(
            select(Event.type, Event.follow_up_id, Event.data)
            .where(Event.tenant_id == member.tenant_id, Event.type != "follow_up.created")
            .order_by(Event.id)
        )
    ).all()
    ((kind, follow_up_id, data),) = rows
    assert (kind, str(follow_up_id)) == ("follow_up.split", created["id"])
    assert data["new_follow_up_id"] == new["id"]
    assert data["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=1"}
    assert data["previous_recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=4"}
    assert datetime.fromisoformat(data["occurrence_start"]) == _week(1)
    created_event = await connection.scalar(
        select(Event.data).where(
            Event.follow_up_id == uuid.UUID(new["id"]), Event.type == "follow_up.created"
        )
    )
    assert created_event is not None
    assert created_event["split_from"] == created["id"]
    assert created_event["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=3"}


async def test_a_split_with_a_new_rule_books_it(
    member: Caller, connection: AsyncConnection
) -> None:
    created = await member.create("/v1/follow-ups", _weekly("FREQ=WEEKLY;COUNT=10"))

    new = ok(
        await _split(
            member, created["id"], _week(3), {"recurrence": {"rrule": "FREQ=DAILY;COUNT=2"}}
        ),
        201,
    )

    assert new["recurrence"] == {"rrule": "FREQ=DAILY;COUNT=2"}
    assert await _count(connection, Occurrence.follow_up_id == uuid.UUID(new["id"])) == 2
    assert await _count(connection, Occurrence.follow_up_id == uuid.UUID(created["id"])) == 3
    bad = await _split(
        member, created["id"], _week(2), {"recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=TU"}}
    )
    assert_problem(bad, 422, "invalid_recurrence")


async def test_splitting_is_a_pinned_number_of_statements(
    member: Caller, admin: Caller, engine: AsyncEngine
) -> None:
    colleague = await admin.new_member()
    room = await create_resource(admin, allow_double_booking=False)
    created = await member.create(
        "/v1/follow-ups",
        _weekly(
            "FREQ=WEEKLY;COUNT=6",
            participants=[{"associate_id": colleague.subject}, {"resource_id": room["id"]}],
        ),
    )
    etag = await etag_of(member, created["id"])

    with statements(engine) as sent:
        response = await member.post(
            _url(created["id"], _week(3)), json={}, headers={"If-Match": etag}
        )

    assert response.status_code == 201, response.text
    # The token check, the series (locked), its occurrence, its participants, the original's
    # rule, its bookings released, the new follow-up, its participants, the occurrences moved
    # over, the strict rooms' locks, their check, the bookings, the two events, the view.
    assert len(sent) == 15, "\n".join(sent)
