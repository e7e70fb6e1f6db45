"""Recurring follow-ups through the API: rules, occurrences blocking time, diary, exceptions."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.followups.series import extend_due
from app.models import Booking, Event, FollowUp, Occurrence
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.problems import assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import etag_of, notifications, participant, respond, tenant_rows

ZONE = ZoneInfo("Europe/Copenhagen")
Body = dict[str, Any]
# Monday 23 March 2026, 09:00 in Copenhagen (winter time); the clocks change on the 29th.
MONDAY = datetime(2026, 3, 23, 9, tzinfo=ZONE)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _series(rule: str, start: datetime = MONDAY, **fields: Any) -> Body:
    return {
        "title": "Weekly planning",
        "start_at": _iso(start),
        "end_at": _iso(start + timedelta(hours=1)),
        "time_zone": "Europe/Copenhagen",
        "recurrence": {"rrule": rule},
        **fields,
    }


async def _diary(caller: Caller, start: datetime, end: datetime) -> list[Body]:
    page = ok(await caller.get("/v1/follow-ups", params={"start": _iso(start), "end": _iso(end)}))
    assert page["next_cursor"] is None
    items: list[Body] = page["items"]
    return items


async def _count(connection: AsyncConnection, *where: Any) -> int:
    return int(await connection.scalar(select(func.count()).where(*where)) or 0)


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(ZONE)


async def test_a_weekly_series_books_each_occurrence_at_nine_local_across_dst(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    colleague = await admin.new_member()
    room = await create_resource(admin)
    created = await member.create(
        "/v1/follow-ups",
        _series(
            "freq=weekly;byday=mo,we;count=10",
            participants=[{"associate_id": colleague.subject}, {"resource_id": room["id"]}],
        ),
    )

    assert created["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"}
    follow_up_id = uuid.UUID(created["id"])
    assert await _count(connection, Occurrence.follow_up_id == follow_up_id) == 10
    # Organizer, colleague and room: each blocks every occurrence.
    assert await _count(connection, Booking.follow_up_id == follow_up_id) == 30
    entries = await _diary(member, MONDAY, MONDAY + timedelta(days=40))
    assert len(entries) == 10
    assert {e["id"] for e in entries} == {created["id"]}
    assert {(_local(e["start_at"]).time(), _local(e["end_at"]).time()) for e in entries} == {
        (MONDAY.time(), (MONDAY + timedelta(hours=1)).time())
    }
    assert [e["occurrence_start"] for e in entries] == [e["start_at"] for e in entries]
    assert [_local(e["start_at"]).strftime("%a %d") for e in entries[:4]] == [
        "Mon 23",
        "Wed 25",
        "Mon 30",
        "Wed 01",
    ]
    # UTC 08:00 before the change, 07:00 after it.
    assert [datetime.fromisoformat(e["start_at"]).hour for e in entries[:3]] == [8, 8, 7]
    # The colleague's diary shows the occurrences in a window, and free/busy sees them.
    window = await _diary(colleague, MONDAY + timedelta(days=7), MONDAY + timedelta(days=8))
    assert [e["occurrence_start"] for e in window] == [entries[2]["start_at"]]
    busy = ok(
        await member.get(
            "/v1/availability",
            params={
                "resource_ids": room["id"],
                "start": _iso(MONDAY),
                "end": _iso(MONDAY + timedelta(days=40)),
            },
        )
    )
    (calendar,) = busy["calendars"]
    assert [b["start_at"] for b in calendar["busy"]] == [e["start_at"] for e in entries]


async def test_october_change_keeps_nine_local(member: Caller) -> None:
    start = datetime(2026, 10, 19, 9, tzinfo=ZONE)
    await member.create("/v1/follow-ups", _series("FREQ=WEEKLY;COUNT=3", start))

    entries = await _diary(member, start, start + timedelta(days=20))

    assert [_local(e["start_at"]).hour for e in entries] == [9, 9, 9]
    assert [datetime.fromisoformat(e["start_at"]).hour for e in entries] == [7, 8, 8]


async def test_bad_rules_are_422_with_the_reason_and_change_nothing(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    before = await tenant_rows(connection, tenant)

    problem = assert_invalid(
        await member.post("/v1/follow-ups", json=_series("FREQ=HOURLY")),
        "body",
        "recurrence",
        "rrule",
    )
    assert "FREQ is one of DAILY, WEEKLY, MONTHLY, YEARLY" in problem["errors"][0]["msg"]
    cases = {
        # 23 March 2026 is a Monday, so a Tuesday rule does not start there.
        "FREQ=WEEKLY;BYDAY=TU": "start_at must be the first occurrence",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30": "start_at must be the first occurrence",
        "FREQ=DAILY;UNTIL=20300101T000000Z": "more than 730 occurrences",
    }
    for rule, reason in cases.items():
        problem = assert_problem(
            await member.post("/v1/follow-ups", json=_series(rule)), 422, "invalid_recurrence"
        )
        assert reason in problem["detail"], problem
    overlapping = _series("FREQ=DAILY;COUNT=3")
    overlapping["end_at"] = _iso(MONDAY + timedelta(hours=25))
    problem = assert_problem(
        await member.post("/v1/follow-ups", json=overlapping), 422, "invalid_recurrence"
    )
    assert "occurrences would overlap" in problem["detail"]
    assert await tenant_rows(connection, tenant) == before


async def test_a_strict_room_taken_on_one_occurrence_is_409_naming_it(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    room = await create_resource(admin, allow_double_booking=False)
    third = MONDAY + timedelta(days=14)
    taken = await member.create(
        "/v1/follow-ups",
        {
            "title": "Taken",
            "start_at": _iso(third + timedelta(minutes=30)),
            "end_at": _iso(third + timedelta(hours=2)),
            "participants": [{"resource_id": room["id"]}],
        },
    )

    response = await member.post(
        "/v1/follow-ups",
        json=_series("FREQ=WEEKLY;COUNT=5", participants=[{"resource_id": room["id"]}]),
    )

    problem = assert_problem(response, 409, "resource_taken")
    (conflict,) = problem["conflicts"]
    assert conflict["follow_up_id"] == taken["id"]
    assert datetime.fromisoformat(conflict["occurrence_start"]) == third
    assert problem["first_free_at"] is None
    assert await _count(connection, Occurrence.tenant_id == member.tenant_id) == 0


async def test_patching_the_rule_rebooks_and_resets_answers(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    colleague = await admin.new_member()
    created = await member.create(
        "/v1/follow-ups",
        _series("FREQ=WEEKLY;COUNT=4", participants=[{"associate_id": colleague.subject}]),
    )
    invitation = participant(created, associate_id=colleague.subject)["id"]
    answered = await respond(colleague, invitation, "accepted")
    assert answered["status"] == "accepted"
    follow_up_id = uuid.UUID(created["id"])
    # The answer covers every occurrence: none of the colleague's bookings is tentative.
    tentative = Booking.follow_up_id == follow_up_id, Booking.tentative
    assert await _count(connection, *tentative) == 0

    response = await member.patch(
        f"/v1/follow-ups/{created['id']}",
        json={"recurrence": {"rrule": "FREQ=DAILY;COUNT=3"}},
        headers={"If-Match": await etag_of(member, created["id"])},
    )

    patched = ok(response)
    assert patched["recurrence"] == {"rrule": "FREQ=DAILY;COUNT=3"}
    assert participant(patched, associate_id=colleague.subject)["status"] == "not_read"
    assert participant(patched, associate_id=colleague.subject)["rescheduled"] is True
    assert await _count(connection, Occurrence.follow_up_id == follow_up_id) == 3
    assert await _count(connection, *tentative) == 3

    single = ok(
        await member.patch(
            f"/v1/follow-ups/{created['id']}",
            json={"recurrence": None},
            headers={"If-Match": await etag_of(member, created["id"])},
        )
    )
    assert single["recurrence"] is None
    assert await _count(connection, Occurrence.follow_up_id == follow_up_id) == 0
    assert await _count(connection, Booking.follow_up_id == follow_up_id) == 2
    (entry,) = await _diary(member, MONDAY, MONDAY + timedelta(days=30))
    assert entry["occurrence_start"] is None


async def test_move_and_cancel_one_occurrence(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    room = await create_resource(admin, allow_double_booking=False)
    created = await member.create(
        "/v1/follow-ups",
        _series("FREQ=WEEKLY;COUNT=3", participants=[{"resource_id": room["id"]}]),
    )
    second = MONDAY + timedelta(days=7)
    url = f"/v1/follow-ups/{created['id']}/occurrences/{second.astimezone(UTC).isoformat()}"
    later = {
        "start_at": _iso(second + timedelta(hours=4)),
        "end_at": _iso(second + timedelta(hours=5)),
    }

    assert_problem(await member.patch(url, json=later), 428, "precondition_required")
    assert_problem(
        await member.patch(url, json=later, headers={"If-Match": '"0"'}), 412, "precondition_failed"
    )
    moved = await member.patch(
        url, json=later, headers={"If-Match": await etag_of(member, created["id"])}
    )

    shown = ok(moved)
    assert datetime.fromisoformat(shown["original_start"]) == second
    assert datetime.fromisoformat(shown["start_at"]) == second + timedelta(hours=4)
    assert shown["overridden"] is True
    assert moved.headers["ETag"] == await etag_of(member, created["id"])
    entries = await _diary(member, MONDAY, MONDAY + timedelta(days=30))
    assert [_local(e["start_at"]).hour for e in entries] == [9, 13, 9]
    room_id = uuid.UUID(room["id"])
    booked = await connection.scalars(
        select(func.lower(Booking.during))
        .where(Booking.calendar_id == room_id)
        .order_by(Booking.during)
    )
    assert [b.astimezone(ZONE).hour for b in booked] == [9, 13, 9]

    # Moving it onto the third occurrence would overlap it.
    third = MONDAY + timedelta(days=14)
    onto = {"start_at": _iso(third), "end_at": _iso(third + timedelta(hours=1))}
    etag = await etag_of(member, created["id"])
    assert_problem(
        await member.patch(url, json=onto, headers={"If-Match": etag}), 422, "invalid_span"
    )

    cancelled = ok(await member.post(f"{url}/cancel", json={"reason": "Holiday"}))
    assert cancelled["cancelled"] is True
    entries = await _diary(member, MONDAY, MONDAY + timedelta(days=30))
    assert [_local(e["start_at"]).day for e in entries] == [23, 6]
    assert await _count(connection, Booking.calendar_id == room_id) == 2
    etag = await etag_of(member, created["id"])
    assert_problem(
        await member.patch(url, json=later, headers={"If-Match": etag}),
        409,
        "occurrence_cancelled",
    )
    missing = url.replace("T07:00", "T07:01")
    assert_problem(await member.post(f"{missing}/cancel"), 404, "not_found")


async def test_occurrences_of_a_single_follow_up_are_422(member: Caller) -> None:
    created = await member.create(
        "/v1/follow-ups",
        {"title": "Once", "start_at": _iso(MONDAY), "end_at": _iso(MONDAY + timedelta(hours=1))},
    )

    response = await member.post(
        f"/v1/follow-ups/{created['id']}/occurrences/{MONDAY.isoformat()}/cancel"
    )

    assert_problem(response, 422, "not_a_series")


async def test_an_unbounded_series_is_booked_ahead_and_the_worker_extends_it(
    member: Caller, connection: AsyncConnection
) -> None:
    start = datetime.now(ZONE).replace(hour=9, minute=0, second=0, microsecond=0)
    created = await member.create("/v1/follow-ups", _series("FREQ=DAILY", start))
    follow_up_id = uuid.UUID(created["id"])
    booked = await _count(connection, Occurrence.follow_up_id == follow_up_id)
    assert 547 <= booked <= 549  # about 18 months of days

    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        # Nothing is due now; thirty days on, the series is booked thirty days further.
        assert await extend_due(session, batch=10) == 0
        assert await extend_due(session, batch=10, now=datetime.now(UTC) + timedelta(days=30)) >= 1
        await session.commit()  # the savepoint, inside the test's transaction

    # Thirty more days (one less or more if a clock change falls near the horizon's hour).
    extended = await _count(connection, Occurrence.follow_up_id == follow_up_id)
    assert booked + 29 <= extended <= booked + 31
    assert await _count(connection, Booking.follow_up_id == follow_up_id) == extended
    horizon = await connection.scalar(
        select(FollowUp.booked_until).where(FollowUp.id == follow_up_id)
    )
    assert horizon is not None
    assert horizon > datetime.now(UTC) + timedelta(days=577)


async def test_the_worker_books_around_a_taken_strict_room_and_tells_the_organizer(
    member: Caller, admin: Caller, connection: AsyncConnection
) -> None:
    colleague = await admin.new_member()
    room = await create_resource(admin, name="Fjord", allow_double_booking=False)
    start = datetime.now(ZONE).replace(hour=9, minute=0, second=0, microsecond=0)
    created = await member.create(
        "/v1/follow-ups",
        _series(
            "FREQ=DAILY",
            start,
            participants=[{"associate_id": colleague.subject}, {"resource_id": room["id"]}],
        ),
    )
    follow_up_id = uuid.UUID(created["id"])
    room_participant = participant(created, resource_id=room["id"])["id"]
    # Past the series' horizon, another follow-up takes the room for one morning.
    day = (start + timedelta(days=560)).replace(hour=9)
    await member.create(
        "/v1/follow-ups",
        {
            "title": "Board meeting",
            "start_at": _iso(day - timedelta(minutes=30)),
            "end_at": _iso(day + timedelta(minutes=30)),
            "participants": [{"resource_id": room["id"]}],
        },
    )

    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        assert await extend_due(session, batch=10, now=datetime.now(UTC) + timedelta(days=30)) >= 1
        await session.commit()

    # The occurrence is booked for the organizer and the colleague, not for the room.
    at_day = Booking.follow_up_id == follow_up_id, Booking.occurrence_start == day
    assert await _count(connection, *at_day) == 2
    assert await _count(connection, *at_day, Booking.calendar_id == uuid.UUID(room["id"])) == 0
    assert await _count(connection, Occurrence.follow_up_id == follow_up_id) > 560
    (told,) = [n for n in await notifications(member) if n["kind"] == "resource_taken"]
    assert told["follow_up_id"] == created["id"]
    assert told["participant_id"] == room_participant
    assert told["message"] == (
        f"Fjord is taken by another follow-up on {day:%Y-%m-%d} 09:00 (Europe/Copenhagen): "
        "Weekly planning is booked there without it"
    )
    events = (
        await connection.execute(
            select(Event.type, Event.data).where(
                Event.follow_up_id == follow_up_id, Event.type == "occurrence.resource_taken"
            )
        )
    ).all()
    ((_, data),) = events
    assert datetime.fromisoformat(data["occurrence_start"]) == day
    assert (data["resource_id"], data["participant_id"]) == (room["id"], room_participant)
    assert datetime.fromisoformat(data["end_at"]) == day + timedelta(hours=1)
    # The colleague is not told: the organizer is the one to find another room.
    assert not [n for n in await notifications(colleague) if n["kind"] == "resource_taken"]
