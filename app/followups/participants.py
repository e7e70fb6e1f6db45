"""Commands on one participant of a follow-up: invite one more, remove, acknowledge a decline."""

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.db.base import utc_now
from app.followups import rules, schemas
from app.followups.errors import (
    DuplicateParticipant,
    NotDeclined,
    OrganizerParticipant,
    TooManyParticipants,
)
from app.followups.reads import owned
from app.followups.repository import ParticipantRepository
from app.imip.outbox import tell_persons
from app.models import FollowUp, Participant
from app.models.states import EventType, NotificationKind, ParticipantRole, ParticipantStatus
from app.notifications.service import notify
from app.webhooks.events import record_event
from app.webhooks.payloads import InvitationAcknowledged


async def add_participant(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, ref: schemas.ParticipantRef
) -> Participant:
    """Invite one more colleague, resource or person."""
    follow_up = await owned(session, actor, follow_up_id)
    participants = ParticipantRepository(session, actor.tenant_id)
    if await found(participants, follow_up, ref) is not None:
        raise DuplicateParticipant("already a participant of this follow-up")
    participant = await joined(session, participants, follow_up, ref)
    await bookings.book_added(session, follow_up, participant)
    await announce_added(session, actor, follow_up, participant)
    return participant


async def found(
    participants: ParticipantRepository, follow_up: FollowUp, ref: schemas.ParticipantRef
) -> Participant | None:
    """The follow-up's participant the reference names, if any; 422 at the participant cap."""
    if await participants.count(follow_up.id) >= schemas.MAX_PARTICIPANTS:
        raise TooManyParticipants(f"at most {schemas.MAX_PARTICIPANTS} participants")
    wanted = rules.ref_target(ref)
    return next((p for p in await participants.of(follow_up.id) if rules.target(p) == wanted), None)


async def joined(
    session: AsyncSession,
    participants: ParticipantRepository,
    follow_up: FollowUp,
    ref: schemas.ParticipantRef,
    only_occurrence: datetime | None = None,
) -> Participant:
    """A new participant of the follow-up (of one occurrence alone, when given), written."""
    (participant,) = await rules.new_participants(
        session, follow_up.tenant_id, [ref], owner_id=None
    )
    participant.follow_up_id = follow_up.id
    participant.only_occurrence = only_occurrence
    await participants.add(participant)
    return participant


async def announce_added(
    session: AsyncSession,
    actor: Actor,
    follow_up: FollowUp,
    participant: Participant,
    occurrence_start: datetime | None = None,
) -> None:
    """Tell of a participant added (to one occurrence): invitation, event, e-mail."""
    await notify(
        session,
        follow_up,
        NotificationKind.INVITED,
        rules.invited_associates([participant]),
        actor=actor.name,
    )
    await record_event(
        session,
        follow_up,
        EventType.PARTICIPANT_ADDED,
        rules.participant_facts(participant, occurrence_start),
    )
    await tell_persons(session, follow_up)


async def remove_participant(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, participant_id: uuid.UUID
) -> None:
    """Take a participant off the follow-up; their answers stay in the history."""
    follow_up = await owned(session, actor, follow_up_id)
    participant = await invitee(session, follow_up, participant_id)
    await ParticipantRepository(session, actor.tenant_id).delete(participant)
    # One added to a single occurrence is taken off that one.
    await announce_removed(session, actor, follow_up, participant, participant.only_occurrence)


async def invitee(
    session: AsyncSession, follow_up: FollowUp, participant_id: uuid.UUID
) -> Participant:
    """The follow-up's participant with this id, not its organizer (404, 409)."""
    participant = await rules.participant_of(session, follow_up, participant_id)
    if participant.role == ParticipantRole.ORGANIZER:
        raise OrganizerParticipant("the organizer cannot be removed; assign the follow-up instead")
    return participant


async def announce_removed(
    session: AsyncSession,
    actor: Actor,
    follow_up: FollowUp,
    participant: Participant,
    occurrence_start: datetime | None = None,
) -> None:
    """Tell of a participant taken off (one occurrence): notification, event, e-mails."""
    await notify(
        session,
        follow_up,
        NotificationKind.REMOVED,
        rules.invited_associates([participant]),
        actor=actor.name,
    )
    await record_event(
        session,
        follow_up,
        EventType.PARTICIPANT_REMOVED,
        rules.participant_facts(participant, occurrence_start),
    )
    await tell_persons(session, follow_up, removed=participant, occurrence=occurrence_start)
    await tell_persons(session, follow_up)


async def acknowledge(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    """The organizer's "Understood" on a declined invitation."""
    follow_up = await owned(session, actor, follow_up_id)
    participant = await rules.participant_of(session, follow_up, participant_id)
    if participant.status != ParticipantStatus.DECLINED:
        raise NotDeclined(f"participant {participant_id} has not declined")
    if participant.acknowledged_at is None:
        await ParticipantRepository(session, actor.tenant_id).update(
            participant, {"acknowledged_at": utc_now()}
        )
        await record_event(
            session,
            follow_up,
            EventType.INVITATION_ACKNOWLEDGED,
            InvitationAcknowledged(
                participant_id=participant.id,
                associate_id=participant.associate_id,
                acknowledged_at=participant.acknowledged_at,
            ),
        )
    return participant
