"""First free slots inside working hours: local days in UTC across DST, shared hours, resources."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.availability.support import (
    Span,
    book,
    first_free,
    first_free_response,
    new_tenant,
    normalize,
    room,
    spans,
    utc,
)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok

HOUR = timedelta(hours=1)
COPENHAGEN = "Europe/Copenhagen"
NEW_YORK = "America/New_York"


def hours(start: str, count: int, step: timedelta = HOUR) -> list[Span]:
    """`count` back-to-back slots of `step` from `start` (UTC)."""
    first = utc(start)
    return [(first + n * step, first + (n + 1) * step) for n in range(count)]


def day_off() -> dict[str, list[dict[str, str]]]:
    return {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


async def test_a_copenhagen_day_moves_in_utc_across_spring_forward(admin: Caller) -> None:
    """09:00-17:00 is 08:00-16:00Z on Friday 27 March, 07:00-15:00Z from Monday 30 March."""
    ada = await admin.new_member(time_zone=COPENHAGEN)

    slots = await first_free(
        ada,
        associates=[ada],
        after=utc("2026-03-27T00:00"),
        before=utc("2026-04-01T00:00"),
        working_hours=True,
        count=17,
    )

    assert slots == [
        *hours("2026-03-27T08:00", 8),
        *hours("2026-03-30T07:00", 8),
        *hours("2026-03-31T07:00", 1),
    ]


async def test_a_copenhagen_day_moves_in_utc_across_fall_back(admin: Caller) -> None:
    """09:00-17:00 is 07:00-15:00Z on Friday 23 October, 08:00-16:00Z from Monday 26 October."""
    ada = await admin.new_member(time_zone=COPENHAGEN)

    slots = await first_free(
        ada,
        associates=[ada],
        after=utc("2026-10-23T00:00"),
        before=utc("2026-10-28T00:00"),
        working_hours=True,
        count=17,
    )

    assert slots == [
        *hours("2026-10-23T07:00", 8),
        *hours("2026-10-26T08:00", 8),
        *hours("2026-10-27T08:00", 1),
    ]


@pytest.mark.parametrize(
    ("sunday", "expected"),
    [
        # 01:00 CET to 05:00 CEST: the night the clocks skip an hour has 3 real hours.
        ("2026-03-29", hours("2026-03-29T00:00", 3)),
        # 01:00 CEST to 05:00 CET: the night they repeat one has 5.
        ("2026-10-25", hours("2026-10-24T23:00", 5)),
    ],
)
async def test_working_hours_on_the_night_of_the_change_last_their_real_length(
    admin: Caller, sunday: str, expected: list[Span]
) -> None:
    night = {**day_off(), "sun": [{"start": "01:00", "end": "05:00"}]}
    owl = await admin.new_member(time_zone=COPENHAGEN, working_hours=night)
    after = utc(f"{sunday}T00:00") - timedelta(days=1)

    slots = await first_free(
        owl,
        associates=[owl],
        after=after,
        before=after + timedelta(days=3),
        working_hours=True,
        count=10,
    )

    assert slots == expected


async def test_busy_time_inside_working_hours_is_skipped(admin: Caller) -> None:
    ada = await admin.new_member(time_zone=COPENHAGEN)
    await book(ada, utc("2026-03-30T07:00"), utc("2026-03-30T08:30"))

    slots = await first_free(
        ada,
        associates=[ada],
        after=utc("2026-03-28T00:00"),
        before=utc("2026-04-01T00:00"),
        working_hours=True,
        count=2,
    )

    assert slots == hours("2026-03-30T08:30", 2)


async def test_slots_end_by_before(admin: Caller) -> None:
    ada = await admin.new_member(time_zone=COPENHAGEN)

    slots = await first_free(
        ada,
        associates=[ada],
        after=utc("2026-03-27T00:00"),
        before=utc("2026-03-27T10:30"),
        working_hours=True,
        count=5,
    )

    assert slots == hours("2026-03-27T08:00", 2)


async def test_split_and_touching_spans_of_a_day(admin: Caller) -> None:
    """Slots step through each stretch of working time; touching spans are one stretch."""
    split = {
        **day_off(),
        "mon": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "16:00"}],
        "tue": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "14:00"}],
    }
    ada = await admin.new_member(time_zone=COPENHAGEN, working_hours=split)
    step = timedelta(minutes=90)

    slots = await first_free(
        ada,
        associates=[ada],
        duration=step,
        after=utc("2026-04-06T00:00"),
        before=utc("2026-04-08T00:00"),
        working_hours=True,
        count=10,
    )

    assert slots == [
        *hours("2026-04-06T06:00", 2, step),  # 08:00 and 09:30 local; 11:00 does not fit
        *hours("2026-04-06T11:00", 2, step),  # 13:00 and 14:30 local
        *hours("2026-04-07T07:00", 3, step),  # 09:00, 10:30, 12:00 local: one stretch
    ]


async def test_an_associate_without_working_hours_has_no_slots_inside_them(
    admin: Caller,
) -> None:
    idle = await admin.new_member(time_zone=COPENHAGEN, working_hours=day_off())
    window = {"after": utc("2026-03-30T00:00"), "before": utc("2026-04-30T00:00")}

    assert await first_free(idle, associates=[idle], working_hours=True, **window) == []
    assert await first_free(idle, associates=[idle], working_hours=False, **window) == [
        (utc("2026-03-30T00:00"), utc("2026-03-30T01:00"))
    ]


async def test_working_hours_is_the_default(admin: Caller) -> None:
    ada = await admin.new_member(time_zone=COPENHAGEN)

    response = await ada.get(
        "/v1/availability/first-free",
        params={
            "associate_ids": ada.subject,
            "duration": "PT1H",
            "after": "2026-03-28T00:00:00Z",
            "before": "2026-04-01T00:00:00Z",
        },
    )

    assert spans(ok(response)["slots"]) == hours("2026-03-30T07:00", 1)


@pytest.mark.parametrize(
    ("monday", "expected"),
    [
        # New York on summer time (UTC-4), Copenhagen not yet (UTC+1): 13:00-16:00Z.
        ("2026-03-23", [*hours("2026-03-23T13:00", 3), *hours("2026-03-24T13:00", 1)]),
        # Both on summer time: 13:00-21:00Z and 07:00-15:00Z share 13:00-15:00Z.
        ("2026-04-06", [*hours("2026-04-06T13:00", 2), *hours("2026-04-07T13:00", 2)]),
    ],
)
async def test_two_time_zones_share_only_their_overlap(
    admin: Caller, monday: str, expected: list[Span]
) -> None:
    york = await admin.new_member(time_zone=NEW_YORK)
    hagen = await admin.new_member(time_zone=COPENHAGEN)

    slots = await first_free(
        york,
        associates=[york, hagen],
        after=utc(f"{monday}T00:00"),
        before=utc(f"{monday}T00:00") + timedelta(days=7),
        working_hours=True,
        count=len(expected),
    )

    assert slots == expected


def office_hours_of_all(instant: datetime, zones: list[ZoneInfo]) -> bool:
    """Whether the instant is Monday to Friday 09:00-17:00 local time in every zone."""
    for zone in zones:
        local = instant.astimezone(zone)
        if local.weekday() >= 5 or not time(9) <= local.time() < time(17):
            return False
    return True


def shared_office_slots(
    after: datetime, before: datetime, duration: timedelta, zones: list[ZoneInfo], count: int
) -> list[Span]:
    """Brute force, a quarter hour at a time: stretches of shared office hours, then slots."""
    step = timedelta(minutes=15)
    stretches: list[Span] = []
    instant = after
    while instant < before:
        if office_hours_of_all(instant, zones):
            if stretches and stretches[-1][1] == instant:
                stretches[-1] = (stretches[-1][0], instant + step)
            else:
                stretches.append((instant, instant + step))
        instant += step
    slots: list[Span] = []
    for lower, upper in stretches:
        start = lower
        while start + duration <= upper:
            slots.append((start, start + duration))
            start += duration
    return slots[:count]


@pytest.mark.parametrize(
    ("zones", "after", "duration"),
    [
        # New York changes on 8 March and 1 November, Copenhagen on 29 March and 25 October.
        ((NEW_YORK, COPENHAGEN), "2026-03-02", HOUR),
        ((NEW_YORK, COPENHAGEN), "2026-03-19", HOUR),
        ((NEW_YORK, COPENHAGEN), "2026-10-19", HOUR),
        # Auckland falls back on 5 April; its day starts the evening before in UTC.
        (("Pacific/Auckland",), "2026-03-30", 3 * HOUR),
        # Lord Howe moves its clocks by half an hour (5 April); Kathmandu is UTC+05:45.
        (("Australia/Lord_Howe", "Asia/Kathmandu"), "2026-03-30", timedelta(minutes=45)),
    ],
    ids=["ny-cph-march", "ny-cph-spring", "ny-cph-autumn", "auckland", "lord-howe-kathmandu"],
)
async def test_shared_hours_across_clock_changes_match_brute_force(
    admin: Caller, zones: tuple[str, ...], after: str, duration: timedelta
) -> None:
    people = [await admin.new_member(time_zone=zone) for zone in zones]
    start = utc(f"{after}T00:00")
    before = start + timedelta(days=35)

    slots = await first_free(
        people[0],
        associates=people,
        duration=duration,
        after=start,
        before=before,
        working_hours=True,
        count=50,
    )

    infos = [ZoneInfo(zone) for zone in zones]
    assert slots == shared_office_slots(start, before, duration, infos, 50)
    assert len(slots) == 50
    for lower, upper in slots:
        assert office_hours_of_all(lower, infos)
        assert office_hours_of_all(upper - timedelta(minutes=1), infos)


async def test_resources_have_no_working_hours(admin: Caller) -> None:
    ada = await admin.new_member(time_zone=COPENHAGEN)
    other = await admin.new_member(time_zone=COPENHAGEN)
    shared = await room(admin)
    await book(other, utc("2026-03-30T07:00"), utc("2026-03-30T09:00"), resources=[shared])
    saturday = {"after": utc("2026-03-28T00:00"), "before": utc("2026-04-03T00:00")}

    # A room alone is free around the clock, weekends included.
    alone = await first_free(ada, resources=[shared], working_hours=True, **saturday)
    assert alone == hours("2026-03-28T00:00", 1)
    # With a colleague, the colleague's hours apply, and the room's busy time is skipped.
    together = await first_free(
        ada, associates=[ada], resources=[shared], working_hours=True, **saturday
    )
    assert together == hours("2026-03-30T09:00", 1)
    without = await first_free(
        ada, associates=[ada], resources=[shared], working_hours=False, **saturday
    )
    assert without == hours("2026-03-28T00:00", 1)


async def test_a_window_given_with_an_offset_means_the_same_instant(admin: Caller) -> None:
    """`after` given with a +02:00 offset is the same instant as in UTC."""
    ada = await admin.new_member(time_zone=COPENHAGEN)

    response = await first_free_response(
        ada,
        associates=[ada],
        after="2026-03-30T10:00:00+02:00",
        before="2026-03-31T00:00:00+02:00",
        working_hours=True,
    )

    slots = spans(ok(response)["slots"])
    assert slots == hours("2026-03-30T08:00", 1)
    assert slots[0][0] == datetime(2026, 3, 30, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sunday", "span", "expected"),
    [
        # 02:30 does not exist on 29 March: it takes the offset before the change (01:30Z),
        # as zoneinfo does; 04:00 CEST is 02:00Z.
        ("2026-03-29", ("02:30", "04:00"), [(utc("2026-03-29T01:30"), utc("2026-03-29T02:00"))]),
        # 02:30 to 03:00 on that night ends (01:00Z) before it starts: no time at all.
        ("2026-03-29", ("02:30", "03:00"), []),
        # 02:30 happens twice on 25 October: the first time counts (00:30Z, CEST).
        ("2026-10-25", ("02:30", "04:00"), [(utc("2026-10-25T00:30"), utc("2026-10-25T03:00"))]),
        ("2026-10-25", ("00:00", "02:30"), [(utc("2026-10-24T22:00"), utc("2026-10-25T00:30"))]),
    ],
)
async def test_local_times_the_clock_skips_or_repeats_are_read_as_zoneinfo_reads_them(
    admin: Caller, sunday: str, span: tuple[str, str], expected: list[Span]
) -> None:
    night = {**day_off(), "sun": [{"start": span[0], "end": span[1]}]}
    owl = await admin.new_member(time_zone=COPENHAGEN, working_hours=night)
    after = utc(f"{sunday}T00:00") - timedelta(days=1)

    slots = await first_free(
        owl,
        associates=[owl],
        duration=timedelta(minutes=30),
        after=after,
        before=after + timedelta(days=3),
        working_hours=True,
        count=10,
    )

    assert slots == [
        (start, start + timedelta(minutes=30))
        for lower, upper in expected
        for start in _steps(lower, upper, timedelta(minutes=30))
    ]


def _steps(lower: datetime, upper: datetime, step: timedelta) -> list[datetime]:
    starts = []
    while lower + step <= upper:
        starts.append(lower)
        lower += step
    return starts


def zoneinfo_hours(
    zone: ZoneInfo, weekly: dict[str, list[tuple[time, time]]], start: datetime, end: datetime
) -> list[Span]:
    """An associate's hours in [start, end) as Python computes them: local days made instants
    with `datetime.combine` in the zone (fold=0), from the local day before `start`."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    found: list[Span] = []
    while day <= last:
        for lower_time, upper_time in weekly.get(WEEKDAYS[day.weekday()], []):
            lower = max(datetime.combine(day, lower_time, zone).astimezone(UTC), start)
            upper = min(datetime.combine(day, upper_time, zone).astimezone(UTC), end)
            if lower < upper:
                found.append((lower, upper))
        day += timedelta(days=1)
    return found


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Zones with clock changes of an hour (both ways round the year), of half an hour, and at
# midnight; the windows start near their changes of 2026.
CHANGES = [
    ("Europe/Copenhagen", "2026-03-27"),
    ("Europe/Copenhagen", "2026-10-23"),
    ("America/New_York", "2026-03-06"),
    ("America/New_York", "2026-10-30"),
    ("Australia/Lord_Howe", "2026-04-03"),
    ("America/Santiago", "2026-04-03"),
    ("America/Havana", "2026-03-06"),
]
# Up to two spans a day, on quarter hours: cut points in order, taken in pairs.
day_spans = (
    st.lists(st.integers(0, 95), unique=True, max_size=4)
    .map(sorted)
    .map(
        lambda cuts: [
            (time(a // 4, a % 4 * 15), time(b // 4, b % 4 * 15))
            for a, b in zip(cuts[0::2], cuts[1::2], strict=False)
        ]
    )
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people=st.lists(
        st.tuples(
            st.sampled_from(CHANGES), st.fixed_dictionaries({d: day_spans for d in WEEKDAYS})
        ),
        min_size=1,
        max_size=2,
    ),
    shift=st.integers(0, 4 * 24),
)
async def test_working_hours_match_zoneinfo(
    client: httpx.AsyncClient,
    people: list[tuple[tuple[str, str], dict[str, list[tuple[time, time]]]]],
    shift: int,
) -> None:
    """The statement's working hours are the ones Python's zoneinfo gives, clock changes too."""
    admin = new_tenant(client)
    colleagues = [
        await admin.new_member(
            time_zone=zone,
            working_hours={
                day: [{"start": f"{a:%H:%M}", "end": f"{b:%H:%M}"} for a, b in spans]
                for day, spans in weekly.items()
            },
        )
        for (zone, _), weekly in people
    ]
    after = utc(f"{people[0][0][1]}T00:00") + shift * timedelta(minutes=15)
    before = after + timedelta(days=5)
    quarter = timedelta(minutes=15)

    slots = await first_free(
        colleagues[0],
        associates=colleagues,
        duration=quarter,
        after=after,
        before=before,
        working_hours=True,
        count=50,
    )

    shared: list[Span] = [(after, before)]
    for (zone, _), weekly in people:
        own = normalize(zoneinfo_hours(ZoneInfo(zone), weekly, after, before))
        shared = [
            (max(a[0], b[0]), min(a[1], b[1]))
            for a in shared
            for b in own
            if max(a[0], b[0]) < min(a[1], b[1])
        ]
    expected = [
        (start, start + quarter)
        for lower, upper in normalize(shared)
        for start in _steps(lower, upper, quarter)
    ]
    assert slots == expected[:50]
