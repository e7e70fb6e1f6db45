"""Working hours as UTC intervals: each associate's weekly local hours, intersected for a group."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.directory.schemas import WEEKDAYS, WorkingHours

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeeklyHours:
    """An associate's working hours, read once: their zone and their spans per weekday."""

    zone: ZoneInfo
    hours: WorkingHours

    @classmethod
    def of(cls, time_zone: str, working_hours: Any) -> "WeeklyHours":
        """From the associate's stored `time_zone` and `working_hours`."""
        return cls(ZoneInfo(time_zone), WorkingHours.model_validate(working_hours))


def associate_hours(weekly: WeeklyHours, start: datetime, end: datetime) -> list[Interval]:
    """The associate's working hours within [start, end), in UTC, correct across DST.

    Each local day is turned into instants in the associate's own zone, so a 09:00-17:00 day
    is 8 hours on either side of a clock change.
    """
    zone, hours = weekly.zone, weekly.hours
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    spans: list[Interval] = []
    while day <= last:
        for span in getattr(hours, WEEKDAYS[day.weekday()]):
            lower = _instant(day, span.start, zone)
            upper = _instant(day, span.end, zone)
            lower, upper = max(lower, start), min(upper, end)
            if lower < upper:
                spans.append((lower, upper))
        day += timedelta(days=1)
    return spans


def _instant(day: object, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, zone).astimezone(UTC)  # type: ignore[arg-type]


def intersect(first: Sequence[Interval], second: Sequence[Interval]) -> list[Interval]:
    """The time in both sorted, non-overlapping interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(first) and j < len(second):
        lower = max(first[i][0], second[j][0])
        upper = min(first[i][1], second[j][1])
        if lower < upper:
            out.append((lower, upper))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return out


def shared_hours(
    associates: Iterable[WeeklyHours], start: datetime, end: datetime
) -> list[Interval]:
    """The time in [start, end) inside every associate's working hours."""
    shared: list[Interval] = [(start, end)]
    for weekly in associates:
        shared = intersect(shared, associate_hours(weekly, start, end))
    return shared
