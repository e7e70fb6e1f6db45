"""What an availability query costs against the rate limits: calendars x days, capped."""

import math
from datetime import datetime

from fastapi import Request

# One unit per started block of this many calendar-days; an ordinary request costs 1 unit.
CALENDAR_DAYS_PER_UNIT = 100
# The most one query costs: 100 calendars over 100 days or more (the largest is 100 x 366).
MAX_COST = 100
_DAY_SECONDS = 86_400


def availability_cost(request: Request) -> int:
    """ceil(calendars x days / 100), from 1 to 100 units.

    calendars: the distinct `associate_ids` plus the distinct `resource_ids`; days: the
    window (`start`..`end`, or `after`..`before`) in days, a started day counting whole.
    Read from the raw query, before the route validates it: a query the route then refuses
    as malformed costs what it asked for (at least 1).
    """
    query = request.query_params
    calendars = len(set(query.getlist("associate_ids"))) + len(set(query.getlist("resource_ids")))
    days = _days(query.get("start") or query.get("after"), query.get("end") or query.get("before"))
    return min(MAX_COST, max(1, math.ceil(calendars * days / CALENDAR_DAYS_PER_UNIT)))


def _days(start: str | None, end: str | None) -> int:
    try:
        seconds = (_instant(end) - _instant(start)).total_seconds()
    except (TypeError, ValueError):  # missing, malformed, or one without an offset
        return 1
    return max(1, math.ceil(seconds / _DAY_SECONDS))


def _instant(value: str | None) -> datetime:
    if value is None:
        raise ValueError("missing")
    return datetime.fromisoformat(value)
