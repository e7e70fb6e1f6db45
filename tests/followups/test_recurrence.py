"""Recurrence rules: the subset we accept, and expansion equal to dateutil's own, DST included."""

import calendar
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from app.followups.recurrence import (
    MAX_OCCURRENCES,
    RecurrenceError,
    expand,
    normalized,
    parse_rule,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
ZONES = ("Europe/Copenhagen", "America/New_York", "Australia/Sydney", "UTC")
# Days around the 2026 changes in Europe (29 Mar, 25 Oct), the US (8 Mar, 1 Nov), Sydney.
DST_DAYS = (
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 4, 5),
    date(2026, 10, 4),
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@st.composite
def starts(draw: st.DrawFn) -> tuple[datetime, str]:
    """A local start, often in the week before a DST change, at an hour near the change."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        day = draw(st.sampled_from(DST_DAYS)) - timedelta(days=draw(st.integers(0, 7)))
    else:
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 730)))
    clock = time(draw(st.sampled_from([0, 1, 2, 3, 9, 23])), draw(st.sampled_from([0, 30])))
    # A wall time a spring change skips becomes the instant it stands for (02:30 -> 03:30).
    local = datetime.combine(day, clock, ZoneInfo(zone)).astimezone(UTC)
    return local.astimezone(ZoneInfo(zone)), zone


def _ordinal(day: date, of_year: bool, from_end: bool) -> int:
    """Which such weekday of its month (or year) the day is, counted from either end."""
    if of_year:
        position, length = day.timetuple().tm_yday, 366 if calendar.isleap(day.year) else 365
    else:
        position, length = day.day, calendar.monthrange(day.year, day.month)[1]
    return -((length - position) // 7 + 1) if from_end else (position - 1) // 7 + 1


@st.composite
def rules(draw: st.DrawFn, start: datetime) -> str:
    """A random rule of the subset (every part, ordinals where the RFC allows them), whose
    filters the start passes, so the start is its first occurrence as the API requires."""
    frequency = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"]))
    parts = [f"FREQ={frequency}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    by_month = draw(st.booleans())
    if by_month:
        others = draw(st.lists(st.integers(1, 12), max_size=2))
        parts.append("BYMONTH=" + ",".join(map(str, sorted({start.month, *others}))))
    if draw(st.booleans()):
        others = draw(st.lists(st.sampled_from(WEEKDAYS), max_size=2))
        days = sorted({WEEKDAYS[start.weekday()], *others}, key=WEEKDAYS.index)
        if frequency in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            of_year = frequency == "YEARLY" and not by_month
            ordinal = _ordinal(start.date(), of_year, draw(st.booleans()))
            days = [f"{ordinal}{day}" for day in days]
        parts.append("BYDAY=" + ",".join(days))
    if frequency != "WEEKLY" and draw(st.booleans()):
        length = calendar.monthrange(start.year, start.month)[1]
        mine = start.day if draw(st.booleans()) else start.day - length - 1
        others = draw(st.lists(st.sampled_from([1, 2, 15, 28, 29, 30, 31, -1]), max_size=2))
        parts.append("BYMONTHDAY=" + ",".join(map(str, sorted({mine, *others}))))
    end = draw(st.sampled_from(["COUNT", "UNTIL", "none"]))
    if end == "COUNT":
        parts.append(f"COUNT={draw(st.integers(1, 40))}")
    elif end == "UNTIL":
        until = start + timedelta(hours=draw(st.integers(0, 24 * 800)))
        parts.append(f"UNTIL={until.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    return ";".join(draw(st.permutations(parts)))


@st.composite
def series(draw: st.DrawFn) -> tuple[str, datetime, str]:
    local_start, zone = draw(starts())
    return draw(rules(local_start)), local_start, zone


@settings(max_examples=300, deadline=None)
@given(drawn=series(), minutes=st.integers(15, 180))
def test_expansion_equals_dateutils(drawn: tuple[str, datetime, str], minutes: int) -> None:
    rule, local_start, zone = drawn
    start_at = local_start.astimezone(UTC)
    end_at = start_at + timedelta(minutes=minutes)
    before = start_at + timedelta(days=800)

    got = expand(rule, start_at, end_at, zone, before=before, limit=200)

    # The reference: dateutil straight from the rule text, from the local start.
    expected = []
    for local in rrulestr(rule, dtstart=start_at.astimezone(ZoneInfo(zone)), cache=False):
        if local.astimezone(UTC) >= before or len(expected) == 200:
            break
        expected.append(local)
    assert expected[0] == local_start  # the start is the first occurrence, as drawn
    assert [o.start_at for o in got] == [local.astimezone(UTC) for local in expected]
    wall = end_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None) - local_start.replace(tzinfo=None)
    assert [o.end_at for o in got] == [
        (local.replace(tzinfo=None) + wall).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        for local in expected
    ]
    assert all(o.original_start == o.start_at for o in got)


@settings(max_examples=100, deadline=None)
@given(drawn=series())
def test_accepted_rules_normalize_to_themselves(drawn: tuple[str, datetime, str]) -> None:
    rule = drawn[0]
    once = normalized(rule, "Europe/Copenhagen")

    assert normalized(once, "Europe/Copenhagen") == once
    assert parse_rule(once) == parse_rule(rule)


def test_weekly_at_nine_copenhagen_stays_at_nine_across_both_changes() -> None:
    start_at = datetime(2026, 3, 23, 9, 0, tzinfo=COPENHAGEN).astimezone(UTC)
    end_at = start_at + timedelta(hours=1)

    got = expand("FREQ=WEEKLY;COUNT=32", start_at, end_at, "Europe/Copenhagen")

    local = [(o.start_at.astimezone(COPENHAGEN), o.end_at.astimezone(COPENHAGEN)) for o in got]
    assert {(s.time(), e.time()) for s, e in local} == {(time(9), time(10))}
    by_day = {s.date(): o.start_at for (s, _), o in zip(local, got, strict=True)}
    # 08:00 UTC in winter, 07:00 UTC in summer: the week after 29 March and after 25 October.
    assert by_day[date(2026, 3, 23)].hour == 8
    assert by_day[date(2026, 3, 30)].hour == 7
    assert by_day[date(2026, 10, 19)].hour == 7
    assert by_day[date(2026, 10, 26)].hour == 8


def test_an_all_day_series_keeps_its_midnights_across_a_change() -> None:
    start_at = datetime(2026, 3, 28, tzinfo=COPENHAGEN).astimezone(UTC)
    end_at = datetime(2026, 3, 29, tzinfo=COPENHAGEN).astimezone(UTC)

    got = expand("FREQ=DAILY;COUNT=3", start_at, end_at, "Europe/Copenhagen")

    assert [o.end_at - o.start_at for o in got] == [
        timedelta(hours=24),
        timedelta(hours=23),  # 29 March is a 23-hour day
        timedelta(hours=24),
    ]
    assert {o.start_at.astimezone(COPENHAGEN).time() for o in got} == {time(0)}


def test_a_date_until_means_the_end_of_that_day_in_the_zone() -> None:
    assert normalized("freq=daily;until=20261231", "Europe/Copenhagen") == (
        "FREQ=DAILY;UNTIL=20261231T225959Z"
    )
    assert normalized("RRULE:BYDAY=MO,WE;FREQ=WEEKLY", "UTC") == "FREQ=WEEKLY;BYDAY=MO,WE"


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("", "1 to 500 characters"),
        ("BYDAY=MO", "FREQ is required"),
        ("FREQ=HOURLY", "FREQ is one of"),
        ("FREQ=WEEKLY;BYHOUR=9", "BYHOUR is not supported"),
        ("FREQ=WEEKLY;FREQ=DAILY", "FREQ is given twice"),
        ("FREQ=WEEKLY;COUNT", "is not NAME=VALUE"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20261231T000000Z", "COUNT and UNTIL exclude each other"),
        ("FREQ=WEEKLY;COUNT=0", "COUNT values lie in 1..730"),
        (f"FREQ=WEEKLY;COUNT={MAX_OCCURRENCES + 1}", "COUNT values lie in 1..730"),
        ("FREQ=WEEKLY;INTERVAL=x", "INTERVAL takes integers"),
        ("FREQ=WEEKLY;BYDAY=2MO", "ordinals (like 2TU) need FREQ=MONTHLY or YEARLY"),
        ("FREQ=MONTHLY;BYDAY=6MO", "outside 1..5"),
        ("FREQ=MONTHLY;BYDAY=XX", "BYDAY takes weekdays"),
        ("FREQ=WEEKLY;BYMONTHDAY=3", "BYMONTHDAY cannot go with FREQ=WEEKLY"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY values lie in -31..31"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values lie in 1..12"),
        ("FREQ=DAILY;UNTIL=2026-12-31", "UNTIL is a UTC time"),
        ("FREQ=DAILY;UNTIL=20261231T120000", "UNTIL is a UTC time"),
        ("FREQ=DAILY;UNTIL=20260231", "is not a real date"),
    ],
)
def test_a_rule_outside_the_subset_says_why(rule: str, reason: str) -> None:
    with pytest.raises(RecurrenceError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_rule(rule)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=MONTHLY;BYDAY=5MO;BYMONTHDAY=1",
        "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=WEEKLY;BYDAY=FR",
    ],
)
def test_a_start_that_is_no_occurrence_gives_none_without_a_search(rule: str) -> None:
    """dateutil searches to the year 9999 for the first of a rule that never occurs."""
    start_at = datetime(2026, 1, 1, 9, tzinfo=COPENHAGEN).astimezone(UTC)  # a Thursday
    began = clock.perf_counter()

    assert expand(rule, start_at, start_at + timedelta(hours=1), "Europe/Copenhagen") == []
    assert clock.perf_counter() - began < 0.5
