"""The SQL of a series' occurrences and of participants taken off them, inside one tenant."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.followups.recurrence import Occurrence as Generated
from app.models import FollowUp, Occurrence, Participant
from app.models.states import FollowUpStatus

# Add generated occurrences; one already there (an override, or a cancelled one) stays.
INSERT_OCCURRENCES = text("""
INSERT INTO occurrences (tenant_id, follow_up_id, original_start, start_at, end_at)
SELECT :tenant_id, :follow_up_id, g.start_at, g.start_at, g.end_at
FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS g(start_at, end_at)
ON CONFLICT (tenant_id, follow_up_id, original_start) DO NOTHING
""")

# Drop every occurrence of a series (its rule or time changed, or it repeats no more).
DELETE_OCCURRENCES = text("""
DELETE FROM occurrences WHERE tenant_id = :tenant_id AND follow_up_id = :follow_up_id
""")

# After one occurrence moved, every invited colleague of it answers it again: their answer to it
# is `not_read` (rescheduled) whatever they answered it or the series. So is an e-mailed
# person's answer to it (the request the move sends asks them again).
RESET_ANSWERS = text("""
INSERT INTO occurrence_answers (tenant_id, participant_id, occurrence_start, follow_up_id,
                                status, rescheduled)
SELECT p.tenant_id, p.id, :original_start, p.follow_up_id, 'not_read', true
FROM participants p
WHERE p.tenant_id = :tenant_id AND p.follow_up_id = :follow_up_id
  AND p.role <> 'organizer'
  AND (p.only_occurrence IS NULL OR p.only_occurrence = :original_start)
  AND NOT EXISTS (SELECT FROM occurrence_exclusions x
                  WHERE x.tenant_id = p.tenant_id AND x.participant_id = p.id
                    AND x.occurrence_start = :original_start)
  AND (p.kind = 'associate'
       OR (p.kind = 'person' AND EXISTS (
           SELECT FROM occurrence_answers a
           WHERE a.tenant_id = p.tenant_id AND a.participant_id = p.id
             AND a.occurrence_start = :original_start)))
ON CONFLICT (tenant_id, participant_id, occurrence_start) DO UPDATE
    SET status = 'not_read', comment = NULL, responded_at = NULL, rescheduled = true
""")

# A series split: its occurrences from :since on become another follow-up's, exceptions and
# all. Answers to them and exclusions from them go along (the foreign keys' ON UPDATE CASCADE
# moves them to the new follow-up), each to the same colleague's (resource's, person's)
# participant there; so do the occurrence-only participants of those occurrences, whole.
MOVE_OCCURRENCES = text("""
WITH answers AS (
    UPDATE occurrence_answers a SET participant_id = n.id
    FROM participants o
    JOIN participants n ON n.tenant_id = o.tenant_id AND n.follow_up_id = :to_follow_up_id
                       AND (n.associate_id = o.associate_id OR n.person_id = o.person_id)
    WHERE a.tenant_id = :tenant_id AND a.follow_up_id = :follow_up_id
      AND a.occurrence_start >= :since
      AND o.tenant_id = :tenant_id AND o.id = a.participant_id
), exclusions AS (
    UPDATE occurrence_exclusions x SET participant_id = n.id
    FROM participants o
    JOIN participants n ON n.tenant_id = o.tenant_id AND n.follow_up_id = :to_follow_up_id
                       AND (n.associate_id = o.associate_id OR n.resource_id = o.resource_id
                            OR n.person_id = o.person_id)
    WHERE x.tenant_id = :tenant_id AND x.follow_up_id = :follow_up_id
      AND x.occurrence_start >= :since
      AND o.tenant_id = :tenant_id AND o.id = x.participant_id
)
UPDATE occurrences SET follow_up_id = :to_follow_up_id
WHERE tenant_id = :tenant_id AND follow_up_id = :follow_up_id AND original_start >= :since
""")

# A series split with a new rule or time: its occurrences from :since on go.
DELETE_OCCURRENCES_FROM = text("""
DELETE FROM occurrences
WHERE tenant_id = :tenant_id AND follow_up_id = :follow_up_id AND original_start >= :since
""")

# Whether another live occurrence of the series overlaps [start_at, end_at).
OVERLAPS_OTHER = text("""
SELECT EXISTS (
    SELECT FROM occurrences
    WHERE tenant_id = :tenant_id AND follow_up_id = :follow_up_id
      AND original_start <> :original_start AND NOT cancelled
      AND during && tstzrange(:start_at, :end_at)
)
""")


# Take a series participant off one occurrence (again: nothing changes).
INSERT_EXCLUSION = text("""
INSERT INTO occurrence_exclusions (tenant_id, participant_id, occurrence_start, follow_up_id)
VALUES (:tenant_id, :participant_id, :occurrence_start, :follow_up_id)
ON CONFLICT DO NOTHING
""")

# Bring a series participant back to one occurrence (or, without one, to all of them);
# whether they had been taken off.
DELETE_EXCLUSIONS = text("""
WITH deleted AS (
    DELETE FROM occurrence_exclusions
    WHERE tenant_id = :tenant_id AND participant_id = :participant_id
      AND (CAST(:occurrence_start AS timestamptz) IS NULL
           OR occurrence_start = :occurrence_start)
    RETURNING 1
)
SELECT EXISTS (SELECT FROM deleted)
""")

# Whether the participant was taken off the occurrence.
EXCLUDED = text("""
SELECT EXISTS (SELECT FROM occurrence_exclusions
               WHERE tenant_id = :tenant_id AND participant_id = :participant_id
                 AND occurrence_start = :occurrence_start)
""")


class OccurrenceRepository:
    """Reads and writes the occurrences of one tenant's series."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def add(self, follow_up_id: uuid.UUID, occurrences: Sequence[Generated]) -> None:
        """Add generated occurrences (one statement); existing ones are kept as they are."""
        if not occurrences:
            return
        await self.session.execute(
            INSERT_OCCURRENCES,
            {
                "tenant_id": self.tenant_id,
                "follow_up_id": follow_up_id,
                "starts": [o.start_at for o in occurrences],
                "ends": [o.end_at for o in occurrences],
            },
        )

    async def delete_all(self, follow_up_id: uuid.UUID) -> None:
        """Drop every occurrence of the series, exceptions included."""
        await self.session.execute(
            DELETE_OCCURRENCES, {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id}
        )

    async def move_from(
        self, follow_up_id: uuid.UUID, since: datetime, to_follow_up_id: uuid.UUID
    ) -> None:
        """Give the series' occurrences from `since` on to another follow-up, as they are.

        Answers to single occurrences go along, to the same colleagues' participants there.
        """
        await self.session.execute(
            MOVE_OCCURRENCES,
            {
                "tenant_id": self.tenant_id,
                "follow_up_id": follow_up_id,
                "since": since,
                "to_follow_up_id": to_follow_up_id,
            },
        )

    async def delete_from(self, follow_up_id: uuid.UUID, since: datetime) -> None:
        """Drop the series' occurrences from `since` on, exceptions included."""
        await self.session.execute(
            DELETE_OCCURRENCES_FROM,
            {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id, "since": since},
        )

    async def get(self, follow_up_id: uuid.UUID, original_start: datetime) -> Occurrence | None:
        """The occurrence the rule started at `original_start`, if booked."""
        query = select(Occurrence).where(
            Occurrence.tenant_id == self.tenant_id,
            Occurrence.follow_up_id == follow_up_id,
            Occurrence.original_start == original_start,
        )
        return (await self.session.scalars(query)).one_or_none()

    async def of(self, follow_up_id: uuid.UUID) -> Sequence[Occurrence]:
        """Every booked occurrence of the series, cancelled ones too, by original start."""
        query = (
            select(Occurrence)
            .where(Occurrence.tenant_id == self.tenant_id, Occurrence.follow_up_id == follow_up_id)
            .order_by(Occurrence.original_start)
        )
        return (await self.session.scalars(query)).all()

    async def reset_answers(self, occurrence: Occurrence) -> None:
        """Put every invited colleague's answer to the (moved) occurrence back to `not_read`."""
        await self.session.execute(
            RESET_ANSWERS,
            {
                "tenant_id": self.tenant_id,
                "follow_up_id": occurrence.follow_up_id,
                "original_start": occurrence.original_start,
            },
        )

    async def overlaps_other(
        self, occurrence: Occurrence, start_at: datetime, end_at: datetime
    ) -> bool:
        """Whether another live occurrence of its series overlaps the span."""
        return bool(
            await self.session.scalar(
                OVERLAPS_OTHER,
                {
                    "tenant_id": self.tenant_id,
                    "follow_up_id": occurrence.follow_up_id,
                    "original_start": occurrence.original_start,
                    "start_at": start_at,
                    "end_at": end_at,
                },
            )
        )


class ExclusionRepository:
    """Reads and writes the series participants taken off single occurrences, in one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _params(
        self, participant_id: uuid.UUID, occurrence_start: datetime | None
    ) -> dict[str, object]:
        return {
            "tenant_id": self.tenant_id,
            "participant_id": participant_id,
            "occurrence_start": occurrence_start,
        }

    async def exclude(self, participant: Participant, occurrence_start: datetime) -> None:
        """Take the series participant off the occurrence."""
        await self.session.execute(
            INSERT_EXCLUSION,
            self._params(participant.id, occurrence_start)
            | {"follow_up_id": participant.follow_up_id},
        )

    async def include(
        self, participant_id: uuid.UUID, occurrence_start: datetime | None = None
    ) -> bool:
        """Bring the participant back to the occurrence (None: to all); whether it was off."""
        return bool(
            await self.session.scalar(
                DELETE_EXCLUSIONS, self._params(participant_id, occurrence_start)
            )
        )

    async def excluded(self, participant_id: uuid.UUID, occurrence_start: datetime) -> bool:
        """Whether the participant was taken off the occurrence."""
        return bool(
            await self.session.scalar(EXCLUDED, self._params(participant_id, occurrence_start))
        )


async def due_for_extension(session: AsyncSession, until: datetime, batch: int) -> list[FollowUp]:
    """Unbounded series (of any tenant) booked less far ahead than `until`, at most `batch`.

    The worker's read, the one across tenants (each series is then extended inside its own):
    oldest horizon first, locked for the extension; one another process is extending is
    skipped, not waited for.
    """
    query = (
        select(FollowUp)
        .where(FollowUp.booked_until < until, FollowUp.status == FollowUpStatus.SCHEDULED)
        .order_by(FollowUp.booked_until)
        .limit(batch)
        .with_for_update(key_share=True, skip_locked=True)
    )
    return list((await session.scalars(query)).all())
