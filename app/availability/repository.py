"""The availability engine's SQL: each question answered by one statement over `bookings`."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.driver import DriverStatement, fetch

# The first `count` starts of `duration` in [after, before) when no calendar is busy, inside
# every asked associate's working hours when :working_hours. Multirange arithmetic:
# window * working hours - busy, over growing windows [after, end), one for each of :ends,
# taken in turn until one holds `count` starts or reaches `before`: the work stays
# proportional to the busy blocks near the answer, in one round trip. Any such window gives
# the answer of the whole: a slot inside a window starts before every slot that crosses its
# end, so a window's first starts are the whole's. (The windows are a LATERAL over :ends
# with LIMIT 1, OFFSET 0 keeping each window's search evaluated once; the planner's guesses
# for it stay far below the cost that switches JIT compilation on.)
# Working hours: each asked associate's weekly local spans on each local day of the window
# (from the day before), made instants in their zone, intersected over the associates (each
# distinct zone and hours once). A local time becomes an instant as Python's zoneinfo makes
# it (fold=0): with the zone's offset from UTC (`a`) half a day before the local day and
# (`b`) half a day after, a day without a clock change (a = b) takes it as it is; on a day
# with one, a local time takes the offset before the change (a) unless it comes after the
# change's later wall-clock reading, so a time the clock skips or repeats takes the offset
# before the change (PostgreSQL's own AT TIME ZONE takes the later instant of a repeated
# time). The days are a subquery of their own (OFFSET 0) so each day's offsets are worked
# out once. A day has at most four spans (MAX_SPANS_PER_DAY), listed one by one so the
# planner expects a few, not a hundred.
# With :check, also the asked ids that are the tenant's calendars, so the caller can refuse
# the others without a round trip of its own; working hours are read from those rows.
FIRST_FREE = DriverStatement("""
WITH known AS MATERIALIZED (
    SELECT id, time_zone, working_hours
    FROM associates
    WHERE :check AND tenant_id = :tenant_id AND id = ANY(:associate_ids)
    UNION ALL
    SELECT id, NULL, NULL
    FROM resources
    WHERE :check AND tenant_id = :tenant_id AND id = ANY(:resource_ids)
),
weekly AS MATERIALIZED (
    SELECT DISTINCT time_zone AS zone, working_hours AS hours
    FROM known
    WHERE :working_hours AND time_zone IS NOT NULL
)
SELECT ARRAY(SELECT id FROM known) AS known,
       (SELECT found.starts
        FROM unnest(CAST(:ends AS timestamptz[])) AS w(e),
        LATERAL (SELECT ARRAY(
SELECT lower(f.r) + k * CAST(:duration AS interval) AS start_at
FROM unnest(
    -- the window inside everyone's working hours
    coalesce((
        SELECT range_intersect_agg(own.m)
        FROM weekly, LATERAL (
            SELECT coalesce(range_agg(tstzrange(x.l, x.u)), '{}'::tstzmultirange) AS m
            FROM (
                SELECT
                    CASE WHEN day.a = day.b THEN loc.ls - day.a
                         WHEN (loc.ls - day.m) AT TIME ZONE 'UTC' AT TIME ZONE weekly.zone
                              - (loc.ls - day.m) = day.a THEN loc.ls - day.a
                         ELSE loc.ls - day.b END AT TIME ZONE 'UTC' AS l,
                    CASE WHEN day.a = day.b THEN loc.le - day.a
                         WHEN (loc.le - day.m) AT TIME ZONE 'UTC' AT TIME ZONE weekly.zone
                              - (loc.le - day.m) = day.a THEN loc.le - day.a
                         ELSE loc.le - day.b END AT TIME ZONE 'UTC' AS u
                FROM (
                    -- each local day, its weekday's spans, and the zone's offsets from
                    -- UTC half a day before and after it (the same but where it changes)
                    SELECT d, spans, a, b, greatest(a, b) AS m
                    FROM generate_series(
                             date_trunc('day', CAST(:after AS timestamptz) AT TIME ZONE weekly.zone)
                             - interval '1 day',
                             date_trunc('day', w.e AT TIME ZONE weekly.zone),
                             interval '1 day') AS d,
                    LATERAL (SELECT weekly.hours
                                    -> (ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])
                                       [extract(isodow FROM d)::int] AS spans,
                                    d AT TIME ZONE weekly.zone AS midnight) AS local,
                    LATERAL (SELECT (local.midnight - interval '12 hours')
                                    AT TIME ZONE weekly.zone
                                    - (local.midnight - interval '12 hours')
                                    AT TIME ZONE 'UTC' AS a,
                                    (local.midnight + interval '36 hours')
                                    AT TIME ZONE weekly.zone
                                    - (local.midnight + interval '36 hours')
                                    AT TIME ZONE 'UTC' AS b) AS offsets
                    OFFSET 0
                ) AS day,
                unnest(ARRAY[day.spans -> 0, day.spans -> 1,
                             day.spans -> 2, day.spans -> 3]) AS span,
                LATERAL (SELECT day.d + CAST(span ->> 'start' AS time) AS ls,
                                day.d + CAST(span ->> 'end' AS time) AS le) AS loc
                WHERE span IS NOT NULL
                OFFSET 0
            ) AS x
            WHERE x.l < x.u
        ) AS own
    ), tstzmultirange(tstzrange(:after, w.e)))
    * tstzmultirange(tstzrange(:after, w.e))
    -- less the busy time
    - (SELECT coalesce(range_agg(b.during), '{}'::tstzmultirange)
       FROM bookings b
       WHERE b.tenant_id = :tenant_id
         AND b.calendar_id = ANY(:calendar_ids)
         AND b.during && tstzrange(:after, w.e)
         AND b.follow_up_id IS DISTINCT FROM :exclude)
) AS f(r),
generate_series(
    0,
    floor(extract(epoch FROM upper(f.r) - lower(f.r))
          / extract(epoch FROM CAST(:duration AS interval)))::int - 1
) AS k
ORDER BY start_at
LIMIT :count
        ) AS starts OFFSET 0) AS found
        WHERE cardinality(found.starts) >= :count OR w.e >= :before
        LIMIT 1) AS starts
""")

# The free/busy answer's calendars as JSON text, ready to send: each asked calendar (in the
# order asked, once) with its busy blocks in the window, those the viewer takes part in one by
# one with their follow-up, the others merged per status; and the window's free time (the
# window minus those) as its starts and ends, few enough to write in Python, and so that the
# free time of calendars asked in two halves can be intersected (app/availability/halves.py).
# Also the asked ids the tenant has (an associate id among the associates, a resource id among
# the resources), so the caller can refuse the others; a calendar's name comes from the same
# lookup. The JSON is concatenated rather than built with json_build_object: every value but
# the name is a uuid, an instant or a fixed word, so nothing else needs escaping (the name
# goes through to_json), and the text comes out exactly as pydantic writes the response model
# (compact, keys in field order, instants in UTC with `Z` and microseconds only when there are
# some). Each range's bounds are taken out once (`taken`): lower()/upper() detoast and
# deserialize the range on every call, a tenth of the statement's time when called per use.
FREE_BUSY = DriverStatement("""
WITH asked AS (
    SELECT a.id, min(a.n) AS n,
           bool_or(a.id = ANY(CAST(:associate_ids AS uuid[]))) AS associate
    FROM unnest(CAST(:associate_ids AS uuid[]) || CAST(:resource_ids AS uuid[]))
         WITH ORDINALITY AS a(id, n)
    GROUP BY a.id
),
calendars AS (
    SELECT a.id, a.n, a.associate, coalesce(s.name, r.name) AS name,
           coalesce(s.name, r.name) IS NOT NULL AS known
    FROM asked a
    LEFT JOIN associates s ON a.associate AND s.tenant_id = :tenant_id AND s.id = a.id
    LEFT JOIN resources r ON a.id = ANY(CAST(:resource_ids AS uuid[]))
                         AND r.tenant_id = :tenant_id AND r.id = a.id
),
blocks AS (
    SELECT b.calendar_id, b.follow_up_id, b.tentative,
           b.during * tstzrange(:start, :end) AS during,
           b.follow_up_id IN (SELECT p.follow_up_id FROM participants p
                              WHERE p.tenant_id = :tenant_id
                                AND p.associate_id = :viewer) AS visible
    FROM calendars c
    JOIN bookings b ON b.tenant_id = :tenant_id
                   AND b.calendar_id = c.id
                   AND b.during && tstzrange(:start, :end)
),
taken AS (
    SELECT calendar_id, during AS r, lower(during) AS l, upper(during) AS u,
           tentative, follow_up_id
    FROM blocks WHERE visible
    UNION ALL
    SELECT calendar_id, r, lower(r), upper(r), tentative, NULL
    FROM (SELECT calendar_id, unnest(range_agg(during)) AS r, tentative
          FROM blocks WHERE NOT visible GROUP BY calendar_id, tentative) AS merged
),
busy AS (
    SELECT calendar_id,
           string_agg('{"start_at":"'
                      || to_char(l AT TIME ZONE 'UTC',
                                 CASE WHEN date_trunc('second', l) = l
                                      THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
                                      ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)
                      || '","end_at":"'
                      || to_char(u AT TIME ZONE 'UTC',
                                 CASE WHEN date_trunc('second', u) = u
                                      THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
                                      ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)
                      || '","status":"'
                      || CASE WHEN tentative THEN 'tentative' ELSE 'busy' END
                      || '","follow_up_id":'
                      || coalesce('"' || follow_up_id::text || '"', 'null') || '}',
                      ',' ORDER BY l, u, tentative, follow_up_id) AS items
    FROM taken GROUP BY calendar_id
),
free AS (
    SELECT r
    FROM unnest(tstzmultirange(tstzrange(:start, :end))
                - coalesce((SELECT range_agg(r) FROM taken), '{}'::tstzmultirange)) AS r
)
SELECT (SELECT coalesce(array_agg(id), '{}') FROM calendars WHERE known) AS known,
       (SELECT coalesce(string_agg(
                  '{"kind":"' || CASE WHEN c.associate THEN 'associate' ELSE 'resource' END
                  || '","id":"' || c.id::text
                  || '","name":' || coalesce(to_json(c.name)::text, 'null')
                  || ',"busy":[' || coalesce(b.items, '') || ']}',
                  ',' ORDER BY c.n), '')
        FROM calendars c LEFT JOIN busy b ON b.calendar_id = c.id) AS calendars,
       (SELECT coalesce(array_agg(lower(r) ORDER BY lower(r)), '{}') FROM free) AS free_starts,
       (SELECT coalesce(array_agg(upper(r) ORDER BY lower(r)), '{}') FROM free) AS free_ends
""")

# Which of a follow-up's bookings overlap another follow-up's booking of the same calendar.
CONFLICTS = text("""
SELECT b.participant_id
FROM bookings b
WHERE b.tenant_id = :tenant_id
  AND b.follow_up_id = :follow_up_id
  AND EXISTS (SELECT 1 FROM bookings o
              WHERE o.tenant_id = b.tenant_id
                AND o.calendar_id = b.calendar_id
                AND o.during && b.during
                AND o.follow_up_id <> b.follow_up_id)
""")


# The calendars a follow-up blocks: its resources, its organizer, its undeclined colleagues.
BLOCKING_CALENDARS = DriverStatement("""
SELECT coalesce(associate_id, resource_id) AS calendar_id
FROM participants
WHERE tenant_id = :tenant_id
  AND follow_up_id = :follow_up_id
  AND kind IN ('associate', 'resource')
  AND status <> 'declined'
""")


# Calendars as a request asks for them: associate ids, resource ids.
Asked = tuple[Sequence[uuid.UUID], Sequence[uuid.UUID]]


@dataclass(frozen=True)
class FirstFree:
    """What FIRST_FREE found: the free starts, and which asked calendars the tenant has."""

    known: set[uuid.UUID]
    starts: list[datetime]


@dataclass(frozen=True)
class FreeBusy:
    """Calendars' free/busy: their JSON text, which of them the tenant has, the free time."""

    known: set[uuid.UUID]
    calendars: str
    free: list[tuple[datetime, datetime]]


class AvailabilityRepository:
    """Reads busy and free time of one tenant's calendars."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def first_free(
        self,
        calendar_ids: Sequence[uuid.UUID],
        duration: timedelta,
        after: datetime,
        ends: Sequence[datetime],
        count: int,
        *,
        exclude: uuid.UUID | None = None,
        asked: Asked | None = None,
        working_hours: bool = False,
    ) -> FirstFree:
        """Starts of the first free slots in [after, ends[-1]), in one statement.

        The windows [after, end) are searched for each of `ends` in turn, until one holds
        `count` starts. With `asked` (associate ids, resource ids) the statement also finds
        which of them are the tenant's calendars (`known`), and with `working_hours` keeps
        to the asked associates' working hours; without `asked`, `known` is empty.
        """
        associate_ids, resource_ids = asked or ((), ())
        (row,) = await fetch(
            self.session,
            FIRST_FREE,
            tenant_id=self.tenant_id,
            calendar_ids=list(calendar_ids),
            after=after,
            ends=list(ends),
            before=ends[-1],
            duration=duration,
            count=count,
            exclude=exclude,
            check=asked is not None,
            working_hours=working_hours and asked is not None,
            associate_ids=list(associate_ids),
            resource_ids=list(resource_ids),
        )
        return FirstFree(known=set(row["known"]), starts=list(row["starts"]))

    async def free_busy(
        self,
        viewer: uuid.UUID | None,
        associate_ids: Sequence[uuid.UUID],
        resource_ids: Sequence[uuid.UUID],
        start: datetime,
        end: datetime,
    ) -> FreeBusy:
        """The asked calendars' busy blocks as JSON and their common free time, in one statement."""
        (row,) = await fetch(
            self.session,
            FREE_BUSY,
            tenant_id=self.tenant_id,
            viewer=viewer,
            associate_ids=list(associate_ids),
            resource_ids=list(resource_ids),
            start=start,
            end=end,
        )
        return FreeBusy(
            known=set(row["known"]),
            calendars=row["calendars"],
            free=list(zip(row["free_starts"], row["free_ends"], strict=True)),
        )

    async def blocking_calendars(self, follow_up_id: uuid.UUID) -> list[uuid.UUID]:
        """The calendars the follow-up blocks: resources, the organizer, undeclined colleagues."""
        rows = await fetch(
            self.session, BLOCKING_CALENDARS, tenant_id=self.tenant_id, follow_up_id=follow_up_id
        )
        return [row["calendar_id"] for row in rows]
