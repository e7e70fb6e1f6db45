"""Follow-ups and participants as the API shows them: with their conflicts, computed on read.

Conflicts are read from `bookings` at the time of the request, so the flags on both of two
overlapping follow-ups are right whichever of them moved, was cancelled or lost a participant.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.repository import AvailabilityRepository
from app.availability.service import conflicts_of, first_free_for
from app.followups import schemas
from app.followups.repository import FollowUpRepository
from app.kit.responses import built
from app.models import FollowUp, Participant
from app.models.states import ParticipantKind


async def follow_up_view(session: AsyncSession, follow_up: FollowUp) -> schemas.FollowUp:
    """The follow-up with its participants and their conflict flags."""
    await FollowUpRepository(session, follow_up.tenant_id).load_participants(follow_up)
    conflicted, first_free_at = await conflicts_of(session, follow_up)
    participants = [
        built(
            schemas.Participant,
            p,
            conflict=p.id in conflicted,
            first_free_at=first_free_at
            if p.id in conflicted and p.kind == ParticipantKind.RESOURCE
            else None,
        )
        for p in follow_up.participants
    ]
    return built(
        schemas.FollowUp,
        follow_up,
        has_conflict=bool(conflicted),
        participants=participants,
    )


async def participant_view(session: AsyncSession, participant: Participant) -> schemas.Participant:
    """One participant with its conflict flag (and first free time, for a resource)."""
    availability = AvailabilityRepository(session, participant.tenant_id)
    conflict = participant.id in await availability.conflicted_participants(
        participant.follow_up_id
    )
    first_free_at = None
    if conflict and participant.kind == ParticipantKind.RESOURCE:
        follow_up = await FollowUpRepository(session, participant.tenant_id).get(
            participant.follow_up_id
        )
        assert follow_up is not None
        first_free_at = await first_free_for(session, follow_up)
    return built(schemas.Participant, participant, conflict=conflict, first_free_at=first_free_at)
