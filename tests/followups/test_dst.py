"""Follow-ups on Copenhagen's DST days: the right UTC instants, 23- and 25-hour all-day spans."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.factories import Caller, follow_up_body

ZONE = "Europe/Copenhagen"


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def _utc(value: str) -> datetime:
    """A time the API returned: ISO 8601 in UTC."""
    parsed = _instant(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def _create(organizer: Caller, **fields: Any) -> dict[str, Any]:
    return await organizer.create("/v1/follow-ups", follow_up_body(time_zone=ZONE, **fields))


async def _diary(caller: Caller, start: str, end: str) -> list[str]:
    response = await caller.get("/v1/follow-ups", params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["items"]]


async def _round_trip(caller: Caller, created: dict[str, Any]) -> None:
    fetched = (await caller.get(f"/v1/follow-ups/{created['id']}")).json()
    for key in ("start_at", "end_at"):
        assert _utc(fetched[key]) == _utc(created[key])


async def test_spring_forward_hour_spans_the_gap(member: Caller) -> None:
    # 01:30 CET, then the clocks jump from 02:00 to 03:00: 03:30 CEST is one hour later.
    created = await _create(
        member, start_at="2026-03-29T01:30:00+01:00", end_at="2026-03-29T03:30:00+02:00"
    )

    start, end = _utc(created["start_at"]), _utc(created["end_at"])
    assert start == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert end == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert end - start == timedelta(hours=1)
    await _round_trip(member, created)

    assert await _diary(member, "2026-03-29T00:29:00Z", "2026-03-29T00:31:00Z") == [created["id"]]
    assert await _diary(member, "2026-03-29T01:29:00Z", "2026-03-29T01:30:00Z") == [created["id"]]
    # The same window said in local time (after the jump) finds it too.
    local = await _diary(member, "2026-03-29T03:29:00+02:00", "2026-03-29T03:30:00+02:00")
    assert local == [created["id"]]
    # Windows that end where it starts, or start where it ends, do not.
    assert await _diary(member, "2026-03-29T00:00:00Z", "2026-03-29T00:30:00Z") == []
    assert await _diary(member, "2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z") == []


async def test_fall_back_has_two_distinct_0230s(member: Caller) -> None:
    # 03:00 CEST becomes 02:00 CET: 02:30 happens twice, an hour apart.
    first = await _create(
        member, start_at="2026-10-25T02:30:00+02:00", end_at="2026-10-25T02:45:00+02:00"
    )
    second = await _create(
        member, start_at="2026-10-25T02:30:00+01:00", end_at="2026-10-25T02:45:00+01:00"
    )

    assert _utc(first["start_at"]) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert _utc(second["start_at"]) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    for created in (first, second):
        assert _utc(created["end_at"]) - _utc(created["start_at"]) == timedelta(minutes=15)
        await _round_trip(member, created)

    assert await _diary(member, "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z") == [first["id"]]
    assert await _diary(member, "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z") == [second["id"]]
    both = await _diary(member, "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z")
    assert both == [first["id"], second["id"]]


async def test_fall_back_hour_between_the_two_0230s(member: Caller) -> None:
    # Same wall-clock time at both ends, yet one hour long, not empty.
    created = await _create(
        member, start_at="2026-10-25T02:30:00+02:00", end_at="2026-10-25T02:30:00+01:00"
    )
    assert _utc(created["start_at"]) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert _utc(created["end_at"]) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    await _round_trip(member, created)

    # Moving it by an hour in UTC crosses the repeated hour correctly.
    path = f"/v1/follow-ups/{created['id']}"
    etag = (await member.get(path)).headers["ETag"]
    moved = await member.patch(
        path,
        json={"start_at": "2026-10-25T02:30:00+01:00", "end_at": "2026-10-25T03:30:00+01:00"},
        headers={"If-Match": etag},
    )
    assert moved.status_code == 200, moved.text
    assert _utc(moved.json()["start_at"]) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert _utc(moved.json()["end_at"]) == datetime(2026, 10, 25, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start_at", "end_at", "hours"),
    [
        pytest.param("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23, id="spring"),
        pytest.param("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25, id="fall"),
        pytest.param("2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00", 24, id="plain"),
        pytest.param("2026-03-28T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 47, id="2 days"),
        pytest.param("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23, id="spring in UTC"),
        pytest.param("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25, id="fall in UTC"),
    ],
)
async def test_all_day_on_local_midnights(
    member: Caller, start_at: str, end_at: str, hours: int
) -> None:
    created = await _create(member, start_at=start_at, end_at=end_at, all_day=True)

    assert created["all_day"] is True
    assert created["time_zone"] == ZONE
    start, end = _utc(created["start_at"]), _utc(created["end_at"])
    assert (start, end) == (_instant(start_at), _instant(end_at))
    assert end - start == timedelta(hours=hours)
    await _round_trip(member, created)
    # The local day(s), asked for in UTC, find it; the hour before its start does not.
    day = await _diary(member, start.isoformat(), end.isoformat())
    assert day == [created["id"]]
    before = await _diary(member, (start - timedelta(hours=1)).isoformat(), start.isoformat())
    assert before == []


async def test_all_day_defaults_to_the_owners_time_zone(member: Caller) -> None:
    created = await member.create(
        "/v1/follow-ups",
        follow_up_body(
            start_at="2026-10-25T00:00:00+02:00", end_at="2026-10-26T00:00:00+01:00", all_day=True
        ),
    )
    assert created["time_zone"] == ZONE
    assert _utc(created["end_at"]) - _utc(created["start_at"]) == timedelta(hours=25)


@pytest.mark.parametrize(
    ("start_at", "end_at", "time_zone"),
    [
        # The day after the jump starts at 00:00+02:00, so +01:00 is 01:00 local.
        pytest.param(
            "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+01:00", ZONE, id="spring end"
        ),
        # 00:00+02:00 on the 29th is 23:00 local on the 28th.
        pytest.param(
            "2026-03-29T00:00:00+02:00", "2026-03-30T00:00:00+02:00", ZONE, id="spring start"
        ),
        # The day after the fall back starts at 00:00+01:00, so +02:00 is 23:00 the day before.
        pytest.param("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+02:00", ZONE, id="fall end"),
        # Midnight of the 25th is still summer time: +01:00 is 01:00 local.
        pytest.param(
            "2026-10-25T00:00:00+01:00", "2026-10-26T00:00:00+01:00", ZONE, id="fall start"
        ),
        # Copenhagen midnights are not midnights in UTC.
        pytest.param("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "UTC", id="zone"),
        # A 24-hour span from local midnight misses the next midnight on a 23-hour day.
        pytest.param("2026-03-29T00:00:00+01:00", "2026-03-30T01:00:00+02:00", ZONE, id="24 h"),
    ],
)
async def test_all_day_off_local_midnights_is_refused(
    member: Caller, start_at: str, end_at: str, time_zone: str
) -> None:
    response = await member.post(
        "/v1/follow-ups",
        json=follow_up_body(start_at=start_at, end_at=end_at, all_day=True, time_zone=time_zone),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_span"
    assert await _diary(member, "2026-03-01T00:00:00Z", "2026-11-01T00:00:00Z") == []


async def test_moving_an_all_day_follow_up_keeps_it_on_midnights(member: Caller) -> None:
    created = await _create(
        member,
        start_at="2026-03-28T00:00:00+01:00",
        end_at="2026-03-29T00:00:00+01:00",
        all_day=True,
    )
    path = f"/v1/follow-ups/{created['id']}"

    async def patch(**fields: Any) -> Any:
        etag = (await member.get(path)).headers["ETag"]
        return await member.patch(path, json=fields, headers={"If-Match": etag})

    # One day on, across the jump: the end must be said with the summer offset.
    wrong = await patch(start_at="2026-03-29T00:00:00+01:00", end_at="2026-03-30T00:00:00+01:00")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "invalid_span")
    changed_zone = await patch(time_zone="UTC")
    assert (changed_zone.status_code, changed_zone.json()["code"]) == (422, "invalid_span")
    moved = await patch(start_at="2026-03-29T00:00:00+01:00", end_at="2026-03-30T00:00:00+02:00")
    assert moved.status_code == 200, moved.text
    span = _utc(moved.json()["end_at"]) - _utc(moved.json()["start_at"])
    assert span == timedelta(hours=23)
    # Made timed, it may then end anywhere.
    timed = await patch(all_day=False, end_at="2026-03-29T12:00:00+02:00")
    assert timed.status_code == 200, timed.text
