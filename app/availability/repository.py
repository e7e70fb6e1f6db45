"""The availability engine's SQL: each question answered by one statement over `bookings`."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The first `count` starts of `duration` in [after, before) when no calendar is busy,
# inside `allowed` (working hours) when given. Multirange arithmetic: window * allowed - busy.
FIRST_FREE = text("""
WITH busy AS (
    SELECT coalesce(range_agg(b.during), '{}'::tstzmultirange) AS m
    FROM bookings b
    WHERE b.tenant_id = :tenant_id
      AND b.calendar_id = ANY(:calendar_ids)
      AND b.during && tstzrange(:after, :before)
      AND b.follow_up_id IS DISTINCT FROM :exclude
),
allowed AS (
    SELECT CASE WHEN :use_allowed
        THEN (SELECT coalesce(range_agg(tstzrange(l, u)), '{}'::tstzmultirange)
              FROM unnest(CAST(:allowed_lower AS timestamptz[]),
                          CAST(:allowed_upper AS timestamptz[])) AS a(l, u))
        ELSE tstzmultirange(tstzrange(:after, :before))
    END AS m
),
free AS (
    SELECT unnest((SELECT m FROM allowed) * tstzmultirange(tstzrange(:after, :before))
                  - (SELECT m FROM busy)) AS r
)
SELECT lower(r) + k * CAST(:duration AS interval) AS start_at
FROM free,
     generate_series(
         0,
         floor(extract(epoch FROM upper(r) - lower(r))
               / extract(epoch FROM CAST(:duration AS interval)))::int - 1
     ) AS k
ORDER BY start_at
LIMIT :count
""")

# Busy blocks of each calendar in the window: the ones the caller may see one by one with
# their follow-up, the others merged per status; plus the window's free time (calendar NULL).
FREE_BUSY = text("""
WITH blocks AS (
    SELECT b.calendar_id, b.follow_up_id, b.tentative,
           b.during * tstzrange(:start, :end) AS during,
           EXISTS (SELECT 1 FROM participants p
                   WHERE p.tenant_id = b.tenant_id AND p.follow_up_id = b.follow_up_id
                     AND p.associate_id = :viewer) AS visible
    FROM bookings b
    WHERE b.tenant_id = :tenant_id
      AND b.calendar_id = ANY(:calendar_ids)
      AND b.during && tstzrange(:start, :end)
)
SELECT calendar_id, lower(during) AS start_at, upper(during) AS end_at, tentative, follow_up_id
FROM blocks WHERE visible
UNION ALL
SELECT calendar_id, lower(r), upper(r), tentative, NULL
FROM (SELECT calendar_id, tentative, unnest(range_agg(during)) AS r
      FROM blocks WHERE NOT visible GROUP BY calendar_id, tentative) AS merged
UNION ALL
SELECT NULL, lower(r), upper(r), false, NULL
FROM unnest(tstzmultirange(tstzrange(:start, :end))
            - coalesce((SELECT range_agg(during) FROM blocks), '{}'::tstzmultirange)) AS r
ORDER BY 1, 2
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


# Which of the asked-for calendars the tenant has: ids only, both kinds in one round trip.
KNOWN_CALENDARS = text("""
SELECT id FROM associates WHERE tenant_id = :tenant_id AND id = ANY(:associate_ids)
UNION ALL
SELECT id FROM resources WHERE tenant_id = :tenant_id AND id = ANY(:resource_ids)
""")

# The calendars a follow-up blocks: its resources, its organizer, its undeclined colleagues.
BLOCKING_CALENDARS = text("""
SELECT coalesce(associate_id, resource_id)
FROM participants
WHERE tenant_id = :tenant_id
  AND follow_up_id = :follow_up_id
  AND kind IN ('associate', 'resource')
  AND status <> 'declined'
""")


@dataclass(frozen=True)
class Block:
    """A busy block (calendar set) or a free interval (calendar None)."""

    calendar_id: uuid.UUID | None
    start_at: datetime
    end_at: datetime
    tentative: bool
    follow_up_id: uuid.UUID | None


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
        before: datetime,
        count: int,
        *,
        allowed: Sequence[tuple[datetime, datetime]] | None = None,
        exclude: uuid.UUID | None = None,
    ) -> list[datetime]:
        """Starts of the first free slots in [after, before), in one statement."""
        rows = await self.session.scalars(
            FIRST_FREE,
            {
                "tenant_id": self.tenant_id,
                "calendar_ids": list(calendar_ids),
                "after": after,
                "before": before,
                "duration": duration,
                "count": count,
                "exclude": exclude,
                "use_allowed": allowed is not None,
                "allowed_lower": [lower for lower, _ in allowed or []],
                "allowed_upper": [upper for _, upper in allowed or []],
            },
        )
        return list(rows.all())

    async def free_busy(
        self,
        viewer: uuid.UUID | None,
        calendar_ids: Sequence[uuid.UUID],
        start: datetime,
        end: datetime,
    ) -> list[Block]:
        """Every calendar's busy blocks and the common free time, in one statement."""
        rows = await self.session.execute(
            FREE_BUSY,
            {
                "tenant_id": self.tenant_id,
                "viewer": viewer,
                "calendar_ids": list(calendar_ids),
                "start": start,
                "end": end,
            },
        )
        return [Block(*row) for row in rows.all()]

    async def conflicted_participants(self, follow_up_id: uuid.UUID) -> set[uuid.UUID]:
        """The follow-up's participants whose calendar is also busy elsewhere at that time."""
        rows = await self.session.scalars(
            CONFLICTS, {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id}
        )
        return set(rows.all())

    async def known_calendars(
        self, associate_ids: Sequence[uuid.UUID], resource_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """The ids among these that name an associate (or resource) of the tenant."""
        rows = await self.session.scalars(
            KNOWN_CALENDARS,
            {
                "tenant_id": self.tenant_id,
                "associate_ids": list(associate_ids),
                "resource_ids": list(resource_ids),
            },
        )
        return set(rows.all())

    async def blocking_calendars(self, follow_up_id: uuid.UUID) -> list[uuid.UUID]:
        """The calendars the follow-up blocks: resources, the organizer, undeclined colleagues."""
        rows = await self.session.scalars(
            BLOCKING_CALENDARS, {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id}
        )
        return list(rows.all())
