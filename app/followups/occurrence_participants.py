"""One occurrence of a series with other participants: add someone to it alone, take one off.

An occurrence-only participant (`only_occurrence`) takes part in that occurrence alone; a
series participant taken off one has a row in `occurrence_exclusions`. Bookings, the diary,
the inbox and calendars follow both (`booking_repository.takes_part`).
"""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.availability.booking_repository import Spans
from app.followups import schemas, series
from app.followups.errors import DuplicateParticipant
from app.followups.participants import (
    announce_added,
    announce_removed,
    found,
    invitee,
    joined,
)
from app.followups.reads import owned
from app.followups.repository import ParticipantRepository
from app.followups.series_repository import ExclusionRepository
from app.kit.errors import NotFound
from app.kit.etags import check_if_match
from app.models import FollowUp, Participant


async def add_to_occurrence(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    original_start: datetime,
    ref: schemas.ParticipantRef,
    if_match: str | None,
) -> tuple[FollowUp, Participant]:
    """Invite someone to one occurrence alone (organizer, If-Match); 409 if they take part.

    A series participant taken off that occurrence is brought back to it instead.
    """
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    await series.live_occurrence(session, follow_up, original_start)
    participants = ParticipantRepository(session, actor.tenant_id)
    participant = await found(participants, follow_up, ref)
    exclusions = ExclusionRepository(session, actor.tenant_id)
    if participant is None:
        participant = await joined(session, participants, follow_up, ref, original_start)
    elif participant.only_occurrence is not None or not await exclusions.include(
        participant.id, original_start
    ):
        raise DuplicateParticipant("already a participant of this follow-up or occurrence")
    await bookings.book_added(session, follow_up, participant, Spans(occurrence=original_start))
    await announce_added(session, actor, follow_up, participant, original_start)
    return follow_up, participant


async def remove_from_occurrence(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    original_start: datetime,
    participant_id: uuid.UUID,
    if_match: str | None,
) -> FollowUp:
    """Take a participant off one occurrence (organizer, If-Match); 404 if not in it.

    A series participant is kept for the other occurrences; one added to that occurrence
    alone is removed.
    """
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    await series.live_occurrence(session, follow_up, original_start)
    participant = await invitee(session, follow_up, participant_id)
    exclusions = ExclusionRepository(session, actor.tenant_id)
    if participant.only_occurrence == original_start:
        await ParticipantRepository(session, actor.tenant_id).delete(participant)
    elif participant.only_occurrence is not None or await exclusions.excluded(
        participant.id, original_start
    ):
        raise NotFound(f"participant {participant_id} takes no part in that occurrence")
    else:
        await exclusions.exclude(participant, original_start)
        await bookings.release_participant(session, follow_up, participant, original_start)
    await announce_removed(session, actor, follow_up, participant, original_start)
    return follow_up
