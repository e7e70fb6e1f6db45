"""The SQL that keeps `bookings` equal to what the participants block, inside one tenant."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repository import constraint_name
from app.models.states import CalendarKind

MAX_LISTED_CONFLICTS = 50
# The exclusion constraint that backs up the strict resources' row locks.
STRICT_NO_OVERLAP = "ex_bookings_strict_no_overlap"

# The spans a follow-up blocks, as `s` (lateral on `f`): a single follow-up's own span, or
# each live occurrence of a series (all; those from :since on; or the one at :occurrence).
_SPANS = """
CROSS JOIN LATERAL (
    SELECT f.start_at AS occurrence_start, f.during
    WHERE f.recurrence_rule IS NULL
    UNION ALL
    SELECT o.original_start, o.during
    FROM occurrences o
    WHERE o.tenant_id = f.tenant_id AND o.follow_up_id = f.id AND NOT o.cancelled
      AND o.original_start >= coalesce(CAST(:since AS timestamptz), '-infinity')
      AND (CAST(:occurrence AS timestamptz) IS NULL OR o.original_start = :occurrence)
) s
"""


def takes_part(occurrence_start: str, p: str = "p") -> str:
    """SQL: participant `p` (an alias) takes part in the occurrence of this original start.

    An occurrence-only participant takes part in its occurrence alone, a series participant
    in each one it was not taken off (a single follow-up's participants: always).
    """
    return f"""
({p}.only_occurrence IS NULL OR {p}.only_occurrence = {occurrence_start})
AND NOT EXISTS (SELECT FROM occurrence_exclusions x
                WHERE x.tenant_id = {p}.tenant_id AND x.participant_id = {p}.id
                  AND x.occurrence_start = {occurrence_start})
"""


_TAKES_PART = takes_part("s.occurrence_start")

# Delete the follow-up's bookings of these calendar kinds (of one participant, from one
# occurrence on, or of one occurrence, when given).
DELETE_BOOKINGS = text("""
DELETE FROM bookings
WHERE tenant_id = :tenant_id
  AND follow_up_id = :follow_up_id
  AND calendar_kind = ANY(:kinds)
  AND (CAST(:participant_id AS uuid) IS NULL OR participant_id = :participant_id)
  AND occurrence_start >= coalesce(CAST(:since AS timestamptz), '-infinity')
  AND (CAST(:occurrence AS timestamptz) IS NULL OR occurrence_start = :occurrence)
""")

# What the follow-up's participants of these kinds block, in each span it blocks (one
# participant, or some occurrences, when given): the rows of `bookings`, and the resource's name.
# Associates are busy when organizer or accepted, tentative while unanswered or tentative;
# resources are always accepted; declined invitations and persons block nothing. An
# invitee's answer to one occurrence of a series stands for their invitation's there; a
# participant blocks only the occurrences it takes part in (_TAKES_PART).
_BLOCKED = (
    """
SELECT p.id AS participant_id, p.tenant_id, p.follow_up_id, p.kind AS calendar_kind,
       coalesce(p.associate_id, p.resource_id) AS calendar_id, s.during,
       coalesce(a.status, p.status) IN ('not_read', 'seen', 'tentative') AS tentative,
       coalesce(NOT r.allow_double_booking, false) AS strict, s.occurrence_start,
       r.name AS resource_name
FROM participants p
JOIN follow_ups f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
"""
    + _SPANS
    + """
LEFT JOIN occurrence_answers a ON a.tenant_id = p.tenant_id AND a.participant_id = p.id
                              AND a.occurrence_start = s.occurrence_start
LEFT JOIN resources r ON r.tenant_id = p.tenant_id AND r.id = p.resource_id
WHERE p.tenant_id = :tenant_id
  AND p.follow_up_id = :follow_up_id
  AND f.status = 'scheduled'
  AND p.kind = ANY(:kinds)
  AND coalesce(a.status, p.status) <> 'declined'
  AND (CAST(:participant_id AS uuid) IS NULL OR p.id = :participant_id)
  AND """
    + _TAKES_PART
)
_COLUMNS = """participant_id, tenant_id, follow_up_id, calendar_kind, calendar_id, during,
                      tentative, strict, occurrence_start"""

# Insert what the follow-up's participants of these kinds block (see _BLOCKED).
_INSERT_BLOCKED = "INSERT INTO bookings (" + _COLUMNS + ")\nSELECT " + _COLUMNS + " FROM blocked\n"
INSERT_BOOKINGS = text("WITH blocked AS (" + _BLOCKED + ")\n" + _INSERT_BLOCKED)

# The same, skipping a strict resource's booking where another follow-up holds it then (the
# exclusion constraint decides, waiting for a concurrent booker's outcome); returns the
# skipped ones, with the resource's name, by occurrence.
INSERT_FREE_BOOKINGS = text(
    "WITH blocked AS ("
    + _BLOCKED
    + "), booked AS (\n"
    + _INSERT_BLOCKED
    + """ON CONFLICT DO NOTHING
RETURNING participant_id, occurrence_start
)
SELECT b.participant_id, b.calendar_id, b.resource_name, b.occurrence_start,
       lower(b.during) AS start_at, upper(b.during) AS end_at
FROM blocked b
WHERE b.strict
  AND NOT EXISTS (SELECT FROM booked k
                  WHERE k.participant_id = b.participant_id
                    AND k.occurrence_start = b.occurrence_start)
ORDER BY b.occurrence_start, b.calendar_id
"""
)

# Lock the follow-up's resources that refuse double booking, in id order. NO KEY UPDATE:
# bookers queue on it, yet it leaves alone the KEY SHARE lock this transaction's own
# participant insert took through its foreign key.
LOCK_STRICT_RESOURCES = text("""
SELECT r.id
FROM resources r
JOIN participants p ON p.tenant_id = r.tenant_id AND p.resource_id = r.id
WHERE p.tenant_id = :tenant_id
  AND p.follow_up_id = :follow_up_id
  AND NOT r.allow_double_booking
ORDER BY r.id
FOR NO KEY UPDATE OF r
""")

# Other follow-ups' bookings of these calendars overlapping any span this follow-up blocks
# for them (with the occurrence they collide with); the other follow-up's id only where the
# viewer takes part in it.
TAKEN = text(
    """
SELECT b.calendar_id,
       CASE WHEN EXISTS (SELECT FROM participants p
                         WHERE p.tenant_id = b.tenant_id
                           AND p.follow_up_id = b.follow_up_id
                           AND p.associate_id = :viewer)
            THEN b.follow_up_id END AS follow_up_id,
       lower(b.during) AS start_at,
       upper(b.during) AS end_at,
       s.occurrence_start
FROM follow_ups f
"""  # noqa: S608 - constant SQL pieces
    + _SPANS
    + """
JOIN bookings b ON b.tenant_id = f.tenant_id
               AND b.calendar_id = ANY(:calendar_ids)
               AND b.during && s.during
               AND b.follow_up_id <> f.id
WHERE f.tenant_id = :tenant_id AND f.id = :follow_up_id
  AND EXISTS (SELECT FROM participants p
              WHERE p.tenant_id = f.tenant_id AND p.follow_up_id = f.id
                AND p.resource_id = b.calendar_id AND """
    + _TAKES_PART
    + """)
ORDER BY b.calendar_id, b.during, s.occurrence_start
LIMIT :limit
"""
)


@dataclass(frozen=True)
class Taken:
    """Another follow-up's booking in the way of a strict resource."""

    resource_id: uuid.UUID
    follow_up_id: uuid.UUID | None
    start_at: datetime
    end_at: datetime
    occurrence_start: datetime


@dataclass(frozen=True)
class Skipped:
    """A strict resource's booking left out, as another follow-up holds the room then."""

    participant_id: uuid.UUID
    resource_id: uuid.UUID
    resource_name: str
    occurrence_start: datetime
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class Spans:
    """Which of a follow-up's spans an operation touches: all, from `since` on, or one."""

    since: datetime | None = None
    occurrence: datetime | None = None


ALL_SPANS = Spans()


class StrictOverlap(Exception):
    """The exclusion constraint refused two overlapping bookings of a strict resource."""


class BookingRepository:
    """Writes and checks the bookings of one tenant's follow-ups."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _scope(
        self,
        follow_up_id: uuid.UUID,
        kinds: Collection[CalendarKind],
        participant_id: uuid.UUID | None,
        spans: Spans,
    ) -> dict[str, object]:
        return {
            "tenant_id": self.tenant_id,
            "follow_up_id": follow_up_id,
            "kinds": [kind.value for kind in kinds],
            "participant_id": participant_id,
            "since": spans.since,
            "occurrence": spans.occurrence,
        }

    async def delete(
        self,
        follow_up_id: uuid.UUID,
        kinds: Collection[CalendarKind],
        participant_id: uuid.UUID | None = None,
        spans: Spans = ALL_SPANS,
    ) -> None:
        """Delete the follow-up's bookings of these kinds (of one participant, some spans)."""
        await self.session.execute(
            DELETE_BOOKINGS, self._scope(follow_up_id, kinds, participant_id, spans)
        )

    async def insert(
        self,
        follow_up_id: uuid.UUID,
        kinds: Collection[CalendarKind],
        participant_id: uuid.UUID | None = None,
        *,
        spans: Spans = ALL_SPANS,
        backstop: bool = False,
    ) -> None:
        """Insert what the participants block; StrictOverlap if a strict resource is taken.

        With `backstop` (strict resources are booked, which the exclusion constraint guards)
        the rows go in under a savepoint, so that a refused insert leaves the transaction
        usable for the 409 that follows. Without strict resources nothing can be refused:
        no savepoint, two round trips fewer.
        """
        params = self._scope(follow_up_id, kinds, participant_id, spans)
        if not backstop:
            await self.session.execute(INSERT_BOOKINGS, params)
            return
        try:
            async with self.session.begin_nested():
                await self.session.execute(INSERT_BOOKINGS, params)
        except IntegrityError as exc:
            if constraint_name(exc) != STRICT_NO_OVERLAP:
                raise
            raise StrictOverlap from exc

    async def insert_free(
        self, follow_up_id: uuid.UUID, kinds: Collection[CalendarKind], spans: Spans
    ) -> list[Skipped]:
        """Insert what the participants block, leaving out strict resources taken then.

        A strict resource's booking that the exclusion constraint refuses is skipped, not an
        error; the skipped ones are returned, by occurrence.
        """
        rows = await self.session.execute(
            INSERT_FREE_BOOKINGS, self._scope(follow_up_id, kinds, None, spans)
        )
        return [Skipped(*row) for row in rows.all()]

    async def lock_strict_resources(self, follow_up_id: uuid.UUID) -> list[uuid.UUID]:
        """Lock the follow-up's strict resources (id order) and return their ids."""
        rows = await self.session.scalars(
            LOCK_STRICT_RESOURCES, {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id}
        )
        return list(rows.all())

    async def taken(
        self,
        follow_up_id: uuid.UUID,
        calendar_ids: Sequence[uuid.UUID],
        viewer: uuid.UUID,
        spans: Spans = ALL_SPANS,
    ) -> list[Taken]:
        """Other follow-ups' bookings of these calendars in the follow-up's spans (at most 50)."""
        rows = await self.session.execute(
            TAKEN,
            {
                "tenant_id": self.tenant_id,
                "follow_up_id": follow_up_id,
                "calendar_ids": list(calendar_ids),
                "viewer": viewer,
                "limit": MAX_LISTED_CONFLICTS,
                "since": spans.since,
                "occurrence": spans.occurrence,
            },
        )
        return [Taken(*row) for row in rows.all()]
