"""Recurrence rules: the RFC 5545 RRULE subset we accept, and its expansion with dateutil.

A rule is checked here for its syntax alone (a ValueError says why); what depends on the
follow-up (its first occurrence, overlaps, the caps) is checked by `expand_series`.
Occurrences are expanded in local wall time of the follow-up's zone, so a 09:00 weekly stays
at 09:00 across daylight-saving changes, and each is then turned into a UTC instant.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

MAX_OCCURRENCES = 730
HORIZON = timedelta(days=548)  # about 18 months: how far ahead an unbounded series is booked
MAX_RULE_LENGTH = 500

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL_TIME = re.compile(r"^\d{8}T\d{6}Z$")
_UNTIL_DATE = re.compile(r"^\d{8}$")
_INTEGER = re.compile(r"^[+-]?\d{1,4}$")
_PARTS = ("FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL")


class Frequency(StrEnum):
    """How often a rule repeats (RFC 5545 FREQ, the subset we expand).

    Not in `app/models/states.py`: the API takes and shows the rule as RRULE text, so this is
    RFC 5545's value set, read while parsing, not one of ours with a component in the document.
    """

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


class RecurrenceError(ValueError):
    """A rule outside the subset, or one that does not fit its follow-up; says why."""


def _integers(name: str, value: str, low: int, high: int, *, zero: bool = False) -> list[int]:
    numbers = []
    for item in value.split(","):
        if not _INTEGER.match(item):
            raise RecurrenceError(f"{name} takes integers, not {item!r}")
        number = int(item)
        if not low <= number <= high or (number == 0 and not zero):
            raise RecurrenceError(f"{name} values lie in {low}..{high}, not {number}")
        numbers.append(number)
    return numbers


def _check_byday(value: str, frequency: Frequency) -> None:
    for item in value.split(","):
        match = _BYDAY.match(item)
        if match is None:
            raise RecurrenceError(f"BYDAY takes weekdays like MO or 2TU or -1FR, not {item!r}")
        if match.group(2) is None:
            if match.group(1):
                raise RecurrenceError(f"BYDAY {item!r} has a sign but no ordinal")
            continue
        if frequency not in (Frequency.MONTHLY, Frequency.YEARLY):
            raise RecurrenceError("BYDAY ordinals (like 2TU) need FREQ=MONTHLY or YEARLY")
        limit = 5 if frequency == Frequency.MONTHLY else 53
        if not 1 <= int(match.group(2)) <= limit:
            raise RecurrenceError(f"BYDAY ordinal in {item!r} lies outside 1..{limit}")


def parse_rule(rule: str) -> dict[str, str]:
    """The rule's parts by name, checked against the subset; RecurrenceError says what is wrong."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text or len(text) > MAX_RULE_LENGTH:
        raise RecurrenceError(f"a rule is 1 to {MAX_RULE_LENGTH} characters")
    parts: dict[str, str] = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        name = name.strip().upper()
        if not equals or not value:
            raise RecurrenceError(f"{part!r} is not NAME=VALUE")
        if name not in _PARTS:
            raise RecurrenceError(f"{name} is not supported (only {', '.join(_PARTS)})")
        if name in parts:
            raise RecurrenceError(f"{name} is given twice")
        parts[name] = value.strip().upper()
    if "FREQ" not in parts:
        raise RecurrenceError("FREQ is required")
    try:
        frequency = Frequency(parts["FREQ"].lower())
    except ValueError:
        raise RecurrenceError("FREQ is one of DAILY, WEEKLY, MONTHLY, YEARLY") from None
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("COUNT and UNTIL exclude each other")
    if "INTERVAL" in parts:
        _integers("INTERVAL", parts["INTERVAL"], 1, 1000)
    if "COUNT" in parts:
        _integers("COUNT", parts["COUNT"], 1, MAX_OCCURRENCES)
    if "BYMONTH" in parts:
        _integers("BYMONTH", parts["BYMONTH"], 1, 12)
    if "BYMONTHDAY" in parts:
        if frequency == Frequency.WEEKLY:
            raise RecurrenceError("BYMONTHDAY cannot go with FREQ=WEEKLY")
        _integers("BYMONTHDAY", parts["BYMONTHDAY"], -31, 31)
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], frequency)
    if "UNTIL" in parts and not (
        _UNTIL_TIME.match(parts["UNTIL"]) or _UNTIL_DATE.match(parts["UNTIL"])
    ):
        raise RecurrenceError("UNTIL is a UTC time (20261231T235959Z) or a date (20261231)")
    if "UNTIL" in parts:
        _until(parts["UNTIL"], UTC)  # a date that does not exist fails here
    return parts


def _until(value: str, zone: tzinfo) -> datetime:
    """UNTIL as a UTC instant: a date means the end of that day in the follow-up's zone."""
    try:
        if _UNTIL_TIME.match(value):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        day = datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise RecurrenceError(f"UNTIL {value!r} is not a real date") from None
    local = day.replace(hour=23, minute=59, second=59, tzinfo=zone)
    return local.astimezone(UTC)


def normalized(rule: str, time_zone: str) -> str:
    """The rule in the canonical form we store: upper case, parts in a fixed order, UNTIL in UTC."""
    parts = parse_rule(rule)
    if "UNTIL" in parts:
        parts["UNTIL"] = _until(parts["UNTIL"], ZoneInfo(time_zone)).strftime("%Y%m%dT%H%M%SZ")
    return _joined(parts)


def is_bounded(rule: str) -> bool:
    """Whether the rule ends by itself (COUNT or UNTIL)."""
    parts = parse_rule(rule)
    return "COUNT" in parts or "UNTIL" in parts


def _days_in_month(day: datetime) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nth(day: datetime, ordinal: int, of_year: bool) -> bool:
    """Whether the day is the ordinal-th (from the end, when negative) such weekday."""
    if of_year:
        position = day.timetuple().tm_yday
        length = 366 if calendar.isleap(day.year) else 365
    else:
        position, length = day.day, _days_in_month(day)
    if ordinal > 0:
        return (position - 1) // 7 + 1 == ordinal
    return (length - position) // 7 + 1 == -ordinal


def starts_on(rule: str, local_start: datetime) -> bool:
    """Whether the rule's filters hold on its start (in local time): the start is an occurrence.

    dateutil searches to the year 9999 for a rule's first occurrence, and a rule that never
    occurs (BYMONTH=2;BYMONTHDAY=30) is a minute of CPU. Rules whose start is an occurrence
    are searched from a match, and the calendar repeats every 400 years; so this check,
    which needs no search, goes first.
    """
    parts = parse_rule(rule)
    if "BYMONTH" in parts and local_start.month not in _integers(
        "BYMONTH", parts["BYMONTH"], 1, 12
    ):
        return False
    if "BYMONTHDAY" in parts:
        length = _days_in_month(local_start)
        days = _integers("BYMONTHDAY", parts["BYMONTHDAY"], -31, 31)
        if not any(local_start.day == (d if d > 0 else length + d + 1) for d in days):
            return False
    if "BYDAY" in parts:
        of_year = parts["FREQ"] == "YEARLY" and "BYMONTH" not in parts
        weekday = _WEEKDAYS[local_start.weekday()]
        for item in parts["BYDAY"].split(","):
            match = _BYDAY.match(item)
            assert match is not None  # checked by parse_rule
            if match.group(3) != weekday:
                continue
            if match.group(2) is None:
                return True
            ordinal = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
            if _nth(local_start, ordinal, of_year):
                return True
        return False
    return True


@dataclass(frozen=True)
class Occurrence:
    """One occurrence as generated: its original start (the key of exceptions) and span."""

    original_start: datetime
    start_at: datetime
    end_at: datetime


def expand(
    rule: str,
    start_at: datetime,
    end_at: datetime,
    time_zone: str,
    *,
    before: datetime | None = None,
    after: datetime | None = None,
    limit: int = MAX_OCCURRENCES + 1,
) -> list[Occurrence]:
    """The rule's occurrences from the first (start_at) on, starting in [after, before).

    Expanded by dateutil from the start in local wall time of `time_zone`; each occurrence
    keeps the first one's local duration (a 09:00 to 10:00 stays so on a DST day). At most
    `limit` occurrences; none when start_at is not an occurrence of the rule.
    """
    zone = ZoneInfo(time_zone)
    first = start_at.astimezone(zone)
    if not starts_on(rule, first):
        return []
    wall = end_at.astimezone(zone).replace(tzinfo=None) - first.replace(tzinfo=None)
    occurrences: list[Occurrence] = []
    for local in rrulestr(rule, dtstart=first, cache=False):
        start = local.astimezone(UTC)
        if before is not None and start >= before:
            break
        if after is not None and start < after:
            continue
        end = (local.replace(tzinfo=None) + wall).replace(tzinfo=zone).astimezone(UTC)
        occurrences.append(Occurrence(start, start, end))
        if len(occurrences) >= limit:
            break
    return occurrences


def split_rule(rule: str, kept: int, at: datetime) -> tuple[str, str]:
    """The rule divided at the occurrence `at`: the part before it, and the part from it on.

    A COUNT is divided (`kept` occurrences before, the rest after); otherwise the first part
    ends with UNTIL at the last whole second before `at`, in UTC as RFC 5545 wants with a
    zoned start, and the second keeps the rule's own end (or none).
    """
    parts = parse_rule(rule)
    head, tail = dict(parts), dict(parts)
    if "COUNT" in parts:
        head["COUNT"], tail["COUNT"] = str(kept), str(int(parts["COUNT"]) - kept)
    else:
        until = (at.astimezone(UTC) - timedelta(microseconds=1)).replace(microsecond=0)
        head["UNTIL"] = until.strftime("%Y%m%dT%H%M%SZ")
    return _joined(head), _joined(tail)


def _joined(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={parts[name]}" for name in _PARTS if name in parts)
