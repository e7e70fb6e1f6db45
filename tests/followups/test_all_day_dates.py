"""All-day follow-ups by dates: `start_date`/`end_date` (end exclusive) in, and in every answer."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid
from tests.fixtures.responses import ok
from tests.followups.support import Body, book, fetch, items, patch, tenant_rows

CPH = "Europe/Copenhagen"
TENTH = {"start_date": "2026-12-10", "end_date": "2026-12-11"}


async def _all_day(organizer: Caller, *invited: Caller, **fields: Any) -> Body:
    refs = [{"associate_id": colleague.subject} for colleague in invited]
    body = {"title": "Away day", "all_day": True, "participants": refs, **fields}
    return await organizer.create("/v1/follow-ups", body)


def _span(body: Body) -> tuple[Any, ...]:
    return body["start_at"], body["end_at"], body["start_date"], body["end_date"]


async def test_created_from_dates_in_its_zone_and_read_back_everywhere(admin: Caller) -> None:
    organizer = await admin.new_member(time_zone="America/New_York")
    guest = await admin.new_member()
    created = await _all_day(organizer, guest, time_zone=CPH, **TENTH)

    expected = ("2026-12-09T23:00:00Z", "2026-12-10T23:00:00Z", "2026-12-10", "2026-12-11")
    assert _span(created) == expected
    assert created["all_day"] is True
    assert _span(await fetch(organizer, created["id"])) == expected
    window = {"start": "2026-12-01T00:00:00Z", "end": "2026-12-31T00:00:00Z"}
    (entry,) = await items(organizer, "/v1/follow-ups", **window)
    assert _span(entry) == expected
    (invitation,) = await items(guest, "/v1/invitations")
    assert _span(invitation["follow_up"]) == expected

    # Another zone moves the instants' offsets, never the dates (the follow-up's own days).
    zoned = ok(await organizer.get(f"/v1/follow-ups/{created['id']}", params={"time_zone": CPH}))
    assert _span(zoned) == (
        "2026-12-10T00:00:00+01:00",
        "2026-12-11T00:00:00+01:00",
        "2026-12-10",
        "2026-12-11",
    )
    (invitation,) = await items(guest, "/v1/invitations", time_zone="America/New_York")
    assert _span(invitation["follow_up"]) == (
        "2026-12-09T18:00:00-05:00",
        "2026-12-10T18:00:00-05:00",
        "2026-12-10",
        "2026-12-11",
    )


async def test_dates_default_to_the_owners_zone(admin: Caller) -> None:
    organizer = await admin.new_member(time_zone="America/New_York")
    created = await _all_day(organizer, start_date="2026-07-10", end_date="2026-07-13")
    assert created["time_zone"] == "America/New_York"
    assert _span(created) == (
        "2026-07-10T04:00:00Z",
        "2026-07-13T04:00:00Z",
        "2026-07-10",
        "2026-07-13",
    )


async def test_july_and_december_and_the_dst_weekend(member: Caller) -> None:
    july = await _all_day(member, time_zone=CPH, start_date="2026-07-10", end_date="2026-07-11")
    assert _span(july)[:2] == ("2026-07-09T22:00:00Z", "2026-07-10T22:00:00Z")
    december = await _all_day(member, time_zone=CPH, **TENTH)
    assert _span(december)[:2] == ("2026-12-09T23:00:00Z", "2026-12-10T23:00:00Z")
    # The weekend the clocks go forward: two days of 47 hours, still midnight to midnight.
    spring = await _all_day(member, time_zone=CPH, start_date="2026-03-28", end_date="2026-03-30")
    assert _span(spring)[:2] == ("2026-03-27T23:00:00Z", "2026-03-29T22:00:00Z")


async def test_an_all_day_follow_up_given_by_instants_carries_its_dates(member: Caller) -> None:
    created = await _all_day(
        member,
        time_zone=CPH,
        start_at="2026-12-10T00:00:00+01:00",
        end_at="2026-12-12T00:00:00+01:00",
    )
    assert (created["start_date"], created["end_date"]) == ("2026-12-10", "2026-12-12")


async def test_a_timed_follow_up_has_null_dates_everywhere(admin: Caller) -> None:
    organizer = await admin.new_member()
    guest = await admin.new_member()
    created = await book(organizer, guest)
    assert (created["start_date"], created["end_date"]) == (None, None)
    (invitation,) = await items(guest, "/v1/invitations")
    assert (invitation["follow_up"]["start_date"], invitation["follow_up"]["end_date"]) == (
        None,
        None,
    )


async def test_patch_with_dates_moves_an_all_day_follow_up(admin: Caller) -> None:
    organizer = await admin.new_member()
    guest = await admin.new_member()
    created = await _all_day(organizer, guest, time_zone=CPH, **TENTH)

    moved = ok(
        await patch(
            organizer, created["id"], {"start_date": "2026-07-10", "end_date": "2026-07-11"}
        )
    )
    assert _span(moved) == (
        "2026-07-09T22:00:00Z",
        "2026-07-10T22:00:00Z",
        "2026-07-10",
        "2026-07-11",
    )
    (invitation,) = [p for p in moved["participants"] if p["associate_id"] == guest.subject]
    assert invitation["rescheduled"] is True

    # One date alone: the other day stays.
    longer = ok(await patch(organizer, created["id"], {"end_date": "2026-07-14"}))
    assert _span(longer)[2:] == ("2026-07-10", "2026-07-14")
    assert longer["end_at"] == "2026-07-13T22:00:00Z"


async def test_patch_makes_a_timed_follow_up_all_day_by_dates(member: Caller) -> None:
    created = await book(member)
    changed = ok(await patch(member, created["id"], {"all_day": True, "time_zone": CPH, **TENTH}))
    assert _span(changed) == (
        "2026-12-09T23:00:00Z",
        "2026-12-10T23:00:00Z",
        "2026-12-10",
        "2026-12-11",
    )


CREATE_ERRORS = [
    pytest.param(
        {"all_day": True, "start_at": "2026-12-10T00:00:00+01:00", **TENTH},
        "start_date",
        "not both",
        id="both-forms",
    ),
    pytest.param({**TENTH}, "start_date", "all_day", id="dates-on-a-timed-follow-up"),
    pytest.param({"all_day": False, **TENTH}, "start_date", "all_day", id="all-day-false"),
    pytest.param(
        {"all_day": True, "start_date": "2026-12-10", "end_date": "2026-12-10"},
        "end_date",
        "exclusive",
        id="end-equals-start",
    ),
    pytest.param(
        {"all_day": True, "start_date": "2026-12-10", "end_date": "2026-12-09"},
        "end_date",
        "exclusive",
        id="end-before-start",
    ),
    pytest.param(
        {"all_day": True, "start_date": "2026-12-10"}, "end_date", "start_date", id="no-end"
    ),
    pytest.param({"all_day": True}, "start_at", "start_date", id="neither-form"),
    pytest.param(
        {"start_at": "2026-12-10T09:00:00+01:00"}, "end_at", "end_at", id="instant-without-end"
    ),
    pytest.param(
        {"all_day": True, "start_date": "2026-12-10", "end_date": "10 December"},
        "end_date",
        "",
        id="not-a-date",
    ),
    pytest.param(
        {"all_day": True, "start_date": "2026-12-10", "end_date": None},
        "end_date",
        "",
        id="null-date",
    ),
]


@pytest.mark.parametrize(("fields", "loc", "says"), CREATE_ERRORS)
async def test_create_refuses_a_wrong_span_and_changes_nothing(
    member: Caller, connection: AsyncConnection, fields: Body, loc: str, says: str
) -> None:
    before = await tenant_rows(connection, member.tenant_id)
    body = {"title": "Away day", "time_zone": CPH, **fields}
    problem = assert_invalid(await member.post("/v1/follow-ups", json=body), "body", loc)
    assert says in problem["detail"] + str(problem["errors"])
    assert await tenant_rows(connection, member.tenant_id) == before


PATCH_ERRORS = [
    pytest.param(
        "timed",
        {"start_date": "2026-12-10", "end_date": "2026-12-11"},
        "start_date",
        "all_day",
        id="dates-on-a-timed-follow-up",
    ),
    pytest.param(
        "all_day",
        {"start_date": "2026-12-12", "end_at": "2026-12-13T00:00:00+01:00"},
        "start_date",
        "not both",
        id="both-forms",
    ),
    pytest.param(
        "all_day", {"end_date": "2026-12-10"}, "end_date", "exclusive", id="end-on-the-start"
    ),
    pytest.param(
        "all_day", {"start_date": "2026-12-11"}, "end_date", "exclusive", id="start-on-the-end"
    ),
    pytest.param(
        "all_day",
        {"all_day": False, "start_date": "2026-12-12"},
        "start_date",
        "all_day",
        id="dates-while-leaving-all-day",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "loc", "says"), PATCH_ERRORS)
async def test_patch_refuses_a_wrong_span_and_changes_nothing(
    member: Caller,
    connection: AsyncConnection,
    kind: str,
    fields: Body,
    loc: str,
    says: str,
) -> None:
    created = await (
        _all_day(member, time_zone=CPH, **TENTH) if kind == "all_day" else book(member)
    )
    before = await tenant_rows(connection, member.tenant_id)
    problem = assert_invalid(await patch(member, created["id"], fields), "body", loc)
    assert says in problem["detail"] + str(problem["errors"])
    assert await tenant_rows(connection, member.tenant_id) == before
    assert await fetch(member, created["id"]) == created
