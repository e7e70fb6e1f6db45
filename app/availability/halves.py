"""Group free/busy of many calendars asked in two halves at once, and the halves' answers joined.

The free/busy statement's time grows with the calendars' blocks; with two connections (and
the database server's second core) two statements over half the calendars each answer in
about half the time. The halves are whole calendars in the order asked, so their JSON joins
with a comma; the free time of all is where both halves are free.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter

from app.availability import schemas

# From this many calendars a request asks in two halves, if a second connection is free:
# below it a statement is a few milliseconds and the second connection's checkout and round
# trip eat the gain (measured: README, "Group free/busy against a CalDAV server").
SPLIT_AT = 20

Ids = Sequence[uuid.UUID]
Span = tuple[datetime, datetime]
Half = tuple[list[uuid.UUID], list[uuid.UUID]]  # associate ids, resource ids

_INTERVALS = TypeAdapter(list[schemas.Interval])


def halves(associate_ids: Ids, resource_ids: Ids) -> tuple[Half, Half]:
    """The asked calendars as (associate_ids, resource_ids) of the first and second half.

    The answer lists each calendar once, where it was first asked, associates before
    resources; the halves cut that order in two, and an id asked as both stays both in its
    half, so each half's answer is its part of the whole one.
    """
    order = list(dict.fromkeys([*associate_ids, *resource_ids]))
    cut = len(order) // 2
    first = set(order[:cut])
    associates = list(dict.fromkeys(associate_ids))
    resources = list(dict.fromkeys(resource_ids))
    return (
        ([a for a in associates if a in first], [r for r in resources if r in first]),
        ([a for a in associates if a not in first], [r for r in resources if r not in first]),
    )


def common_free(one: Sequence[Span], other: Sequence[Span]) -> list[Span]:
    """Where both are free: the intersection of two sorted lists of disjoint spans."""
    both: list[Span] = []
    i = j = 0
    while i < len(one) and j < len(other):
        start = max(one[i][0], other[j][0])
        end = min(one[i][1], other[j][1])
        if start < end:
            both.append((start, end))
        if one[i][1] < other[j][1]:
            i += 1
        else:
            j += 1
    return both


def answer_json(calendars: Sequence[str], free: Sequence[Span]) -> bytes:
    """The Availability body from the calendars' JSON parts and the free time.

    The free time is written by pydantic, as the response model would write it.
    """
    intervals = _INTERVALS.dump_json([schemas.Interval(start_at=s, end_at=e) for s, e in free])
    return b'{"calendars":[%s],"free":%s}' % (",".join(calendars).encode(), intervals)
