"""Helpers of the calendar tests: times near now, a feed made through the API, parsing."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from icalendar import Calendar

from tests.fixtures.factories import Caller
from tests.followups.support import book


def hour_from_now(days: float, hours: int = 1) -> tuple[str, str]:
    """A span of `hours` starting on the hour `days` from now, as ISO strings."""
    start = (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


async def book_at(caller: Caller, days: float, *invited: Caller, **fields: Any) -> dict[str, Any]:
    """A follow-up of `caller`, `days` from now, inviting these colleagues."""
    start, end = hour_from_now(days)
    return await book(caller, *invited, start_at=start, end_at=end, **fields)


async def new_feed(caller: Caller, **fields: Any) -> tuple[dict[str, Any], str]:
    """A feed of the caller's diary, and the path of its secret URL."""
    created = await caller.create("/v1/feeds", fields)
    return created, urlsplit(created["url"]).path


def events_of(response: httpx.Response) -> dict[str, Any]:
    """The VEVENTs of a calendar answer by follow-up id (the UID before `@convene`)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return {str(e["UID"]).removesuffix("@convene"): e for e in calendar.walk("VEVENT")}
