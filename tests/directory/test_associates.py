"""Associates: time zones, working hours, and what deactivation does to a member's access."""

from typing import Any

import pytest

from tests.directory.support import (
    ASSOCIATES,
    OFFICE_HOURS,
    Body,
    Method,
    body_for,
    methods,
    week,
    write_accepted,
    write_rejected,
)
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem


def span(start: Any, end: Any) -> Body:
    return {"start": start, "end": end}


async def test_default_working_hours_are_monday_to_friday_nine_to_five(admin: Caller) -> None:
    created = await admin.create(ASSOCIATES.path, await body_for(admin, ASSOCIATES, minimal=True))

    assert created["working_hours"] == OFFICE_HOURS


# A PATCH replaces the whole week: the object it patches works Monday mornings and afternoons.
@methods
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (
            {
                "mon": [span("08:00", "12:00"), span("13:00", "16:30")],
                "sat": [span("10:00", "14:00")],
            },
            week(mon=[("08:00", "12:00"), ("13:00", "16:30")], sat=[("10:00", "14:00")]),
        ),
        (
            {"tue": [span("13:00", "17:00"), span("08:00", "12:00")]},
            week(tue=[("08:00", "12:00"), ("13:00", "17:00")]),
        ),
        (
            {"wed": [span("09:00", "12:00"), span("12:00", "17:00")]},
            week(wed=[("09:00", "12:00"), ("12:00", "17:00")]),
        ),
        (
            {"thu": [span(f"{h:02}:00", f"{h:02}:30") for h in (8, 10, 12, 14)]},
            week(thu=[(f"{h:02}:00", f"{h:02}:30") for h in (8, 10, 12, 14)]),
        ),
        ({"sun": [span("00:00", "23:59")]}, week(sun=[("00:00", "23:59")])),
        ({}, week()),
    ],
    ids=["split day and Saturday", "unsorted", "back to back", "four spans", "whole day", "none"],
)
async def test_working_hours_round_trip(
    admin: Caller, method: Method, given: Body, stored: Body
) -> None:
    result = await write_accepted(admin, ASSOCIATES, method, {"working_hours": given})

    assert result["working_hours"] == stored


@methods
@pytest.mark.parametrize(
    ("days", "loc"),
    [
        ({"mon": [span("09:00", "12:00"), span("11:00", "13:00")]}, ()),
        ({"mon": [span("09:00", "17:00"), span("10:00", "11:00")]}, ()),
        ({"mon": [span("09:00", "12:00"), span("09:00", "12:00")]}, ()),
        ({"tue": [span("09:00", "09:00")]}, ("tue", 0)),
        ({"tue": [span("17:00", "09:00")]}, ("tue", 0)),
        ({"wed": [span(f"{h:02}:00", f"{h:02}:30") for h in range(8, 13)]}, ("wed",)),
        ({"thu": [span("09:00+01:00", "17:00")]}, ("thu", 0, "start")),
        ({"thu": [span("09:00", "17:00Z")]}, ("thu", 0, "end")),
        ({"fri": [span("24:00", "23:00")]}, ("fri", 0, "start")),
        ({"fri": [span("nine", "17:00")]}, ("fri", 0, "start")),
        ({"fri": [span(32400, 61200)]}, ("fri", 0)),
        ({"fri": [span("09:00", 61200)]}, ("fri", 0, "end")),
        ({"monday": [span("09:00", "17:00")]}, ("monday",)),
        ({"sat": [{**span("09:00", "17:00"), "room": "A"}]}, ("sat", 0, "room")),
        ({"sat": [{"start": "09:00"}]}, ("sat", 0, "end")),
        ({"sat": ["09:00-17:00"]}, ("sat", 0)),
        ({"sun": span("09:00", "17:00")}, ("sun",)),
        ({"sun": None}, ("sun",)),
    ],
    ids=[
        "overlapping",
        "contained",
        "twice",
        "end equals start",
        "end before start",
        "five spans",
        "start with offset",
        "end with Z",
        "24:00",
        "not a time",
        "seconds as numbers",
        "string and number",
        "unknown weekday",
        "unknown span field",
        "span without end",
        "span as string",
        "day not a list",
        "day null",
    ],
)
async def test_invalid_working_hours_are_422(
    admin: Caller, method: Method, days: Body, loc: tuple[str | int, ...]
) -> None:
    await write_rejected(admin, ASSOCIATES, method, {"working_hours": days}, "working_hours", *loc)


@methods
@pytest.mark.parametrize(
    "time_zone", ["Europe/Copenhagen", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"]
)
async def test_known_time_zone_is_stored(admin: Caller, method: Method, time_zone: str) -> None:
    result = await write_accepted(admin, ASSOCIATES, method, {"time_zone": time_zone})

    assert result["time_zone"] == time_zone


@methods
@pytest.mark.parametrize(
    "time_zone",
    [
        "Mars/Olympus",
        "",
        "Europe/Copenhagen ",
        " Europe/Copenhagen",
        "europe/copenhagen",
        "+01:00",
        "Europe/../UTC",
        "Europe/Copenhagen" * 4,
        1,
    ],
)
async def test_unknown_time_zone_is_422(admin: Caller, method: Method, time_zone: Any) -> None:
    await write_rejected(admin, ASSOCIATES, method, {"time_zone": time_zone}, "time_zone")


@methods
async def test_host_alias_localtime_is_not_a_time_zone(admin: Caller, method: Method) -> None:
    # Debian-like hosts have /usr/share/zoneinfo/localtime, a link to the server's own
    # /etc/localtime, and zoneinfo.available_timezones() lists it: not an IANA name, and its
    # meaning changes with the host that computes the working hours.
    await write_rejected(admin, ASSOCIATES, method, {"time_zone": "localtime"}, "time_zone")


async def test_deactivated_member_loses_access_until_reactivated(
    admin: Caller, member: Caller
) -> None:
    url = ASSOCIATES.url(member.subject)
    assert (await member.get(ASSOCIATES.path)).status_code == 200

    assert (await admin.delete(url)).status_code == 204
    locked_out = await member.get(ASSOCIATES.path)
    assert (await admin.patch(url, json={"active": True})).status_code == 200
    back_in = await member.get(ASSOCIATES.path)

    assert_problem(locked_out, 401, "invalid_token")
    assert back_in.status_code == 200, back_in.text
