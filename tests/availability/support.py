"""Shared helpers of the availability tests: UTC times, bookings, queries and interval sets."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.responses import ok
from tests.followups.support import participant

__all__ = [
    "Body",
    "Span",
    "availability",
    "book",
    "first_free",
    "first_free_response",
    "iso",
    "new_tenant",
    "normalize",
    "participant",
    "room",
    "span",
    "spans",
    "subtract",
    "utc",
    "view",
    "when",
]

Body = dict[str, Any]
Span = tuple[datetime, datetime]


def utc(text: str) -> datetime:
    """A UTC instant from a short ISO form such as `2026-04-06T10:00`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


MONDAY = utc("2026-05-04T00:00")


def at(hour: int, minute: int = 0) -> datetime:
    """A time on Monday 2026-05-04 (UTC), the day most availability tests use."""
    return MONDAY + timedelta(hours=hour, minutes=minute)


def iso(instant: datetime) -> str:
    return instant.isoformat()


def when(text: str) -> datetime:
    """An instant the API returned, which must carry its offset."""
    instant = datetime.fromisoformat(text)
    assert instant.utcoffset() is not None, text
    return instant


def span(body: Body) -> Span:
    """(start_at, end_at) of a slot, block or interval of the API, as aware datetimes."""
    return when(body["start_at"]), when(body["end_at"])


def spans(bodies: Iterable[Body]) -> list[Span]:
    return [span(body) for body in bodies]


def normalize(intervals: Iterable[Span]) -> list[Span]:
    """The union of the intervals as sorted, disjoint, non-touching spans."""
    merged: list[Span] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(window: Span, busy: Iterable[Span]) -> list[Span]:
    """The parts of `window` outside every busy span."""
    free: list[Span] = []
    cursor, end = window
    for lower, upper in normalize(busy):
        if upper <= cursor or lower >= end:
            continue
        if lower > cursor:
            free.append((cursor, lower))
        cursor = max(cursor, upper)
    if cursor < end:
        free.append((cursor, end))
    return free


def new_tenant(client: httpx.AsyncClient) -> Caller:
    """An admin service account of a fresh tenant."""
    return Caller(client, uuid.uuid4(), subject="provisioning", admin=True)


async def room(admin: Caller, *, strict: bool = False, **fields: Any) -> str:
    """A new room; `strict` refuses double booking."""
    made = await create_resource(admin, allow_double_booking=not strict, **fields)
    room_id: str = made["id"]
    return room_id


def _refs(associates: Sequence[Caller | str], resources: Sequence[str]) -> list[Body]:
    return [
        *({"associate_id": a.subject if isinstance(a, Caller) else a} for a in associates),
        *({"resource_id": r} for r in resources),
    ]


async def book(
    organizer: Caller,
    start: datetime,
    end: datetime,
    *,
    invite: Sequence[Caller | str] = (),
    resources: Sequence[str] = (),
    expect: int = 201,
) -> Body:
    """POST a follow-up of `organizer` from start to end; return its body (or problem)."""
    response = await organizer.post(
        "/v1/follow-ups",
        json={
            "title": "Booked",
            "start_at": iso(start),
            "end_at": iso(end),
            "participants": _refs(invite, resources),
        },
    )
    created: Body = ok(response, expect)
    return created


async def view(caller: Caller, follow_up_id: str) -> Body:
    found: Body = ok(await caller.get(f"/v1/follow-ups/{follow_up_id}"))
    return found


def _calendar_params(associates: Sequence[Caller | str], resources: Sequence[str]) -> list[Any]:
    return [
        *(("associate_ids", a.subject if isinstance(a, Caller) else a) for a in associates),
        *(("resource_ids", r) for r in resources),
    ]


async def first_free_response(
    caller: Caller,
    *,
    associates: Sequence[Caller | str] = (),
    resources: Sequence[str] = (),
    duration: timedelta | str = timedelta(hours=1),
    after: datetime | str,
    before: datetime | str,
    working_hours: bool = False,
    count: int | None = None,
) -> httpx.Response:
    """GET /v1/availability/first-free with these calendars."""
    params = [
        *_calendar_params(associates, resources),
        ("duration", duration if isinstance(duration, str) else _iso_duration(duration)),
        ("after", after if isinstance(after, str) else iso(after)),
        ("before", before if isinstance(before, str) else iso(before)),
        ("working_hours", "true" if working_hours else "false"),
    ]
    if count is not None:
        params.append(("count", str(count)))
    return await caller.get("/v1/availability/first-free", params=params)


async def first_free(caller: Caller, **query: Any) -> list[Span]:
    """The slots first-free returns, as spans (each checked to be `duration` long)."""
    body = ok(await first_free_response(caller, **query))
    assert set(body) == {"slots"}, body
    return spans(body["slots"])


async def availability(
    caller: Caller,
    start: datetime,
    end: datetime,
    *,
    associates: Sequence[Caller | str] = (),
    resources: Sequence[str] = (),
) -> Body:
    """GET /v1/availability for these calendars over [start, end)."""
    params = [*_calendar_params(associates, resources), ("start", iso(start)), ("end", iso(end))]
    found: Body = ok(await caller.get("/v1/availability", params=params))
    return found


def _iso_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    assert seconds == duration.total_seconds()
    return f"PT{seconds}S"
