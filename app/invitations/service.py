"""Invitation rules: only the invitee answers; seen never overrides an answer; cancel freezes."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.db.base import utc_now
from app.directory.repository import AssociateRepository
from app.followups import schemas
from app.followups.errors import FollowUpCancelled, OrganizerParticipant
from app.followups.repository import FollowUpRepository, ParticipantRepository, ResponseRepository
from app.invitations.schemas import ResponseRequest
from app.kit.errors import Forbidden, NotFound
from app.kit.pagination import Paged, PageParams
from app.models import FollowUp, Participant, Response
from app.models.states import (
    EventType,
    FollowUpStatus,
    NotificationKind,
    ParticipantRole,
    ParticipantStatus,
)
from app.notifications.service import notify
from app.webhooks.events import record_event


class NotInvitee(Forbidden):
    code = "not_invitee"
    title = "Not the invitee"
    description = "Only the invited associate may mark an invitation seen or answer it."


async def _name(session: AsyncSession, actor: Actor) -> str:
    # The token check loaded the caller's row into this session: no query.
    associate = await AssociateRepository(session, actor.tenant_id).held_or_get(actor.associate_id)
    return actor.name if associate is None else associate.name


async def inbox(
    session: AsyncSession, actor: Actor, status: ParticipantStatus | None, page: PageParams
) -> Paged[dict[str, Any]]:
    """The caller's invitations, newest first, each with its follow-up."""
    rows = await ParticipantRepository(session, actor.tenant_id).invitations(
        actor.associate_id, status, page
    )
    return Paged(
        [
            {
                **schemas.ParticipantFields.model_validate(participant).model_dump(),
                "follow_up": follow_up,
            }
            for participant, follow_up in rows.items
        ],
        rows.next_cursor,
    )


async def _own_invitation(
    session: AsyncSession, actor: Actor, participant_id: uuid.UUID
) -> tuple[Participant, FollowUp]:
    """The caller's invitation and its follow-up (locked, so answers to it queue up)."""
    participants = ParticipantRepository(session, actor.tenant_id)
    participant = await participants.get(participant_id)
    follow_up = (
        await FollowUpRepository(session, actor.tenant_id).get_visible(
            participant.follow_up_id, actor.associate_id, for_update=True
        )
        if participant is not None
        else None
    )
    if participant is None or follow_up is None:
        raise NotFound(f"invitation {participant_id} not found")
    # Re-read under the lock: an answer committed while this request waited must be seen.
    await participants.reread(participant)
    if participant.associate_id != actor.associate_id:
        raise NotInvitee("this invitation is someone else's")
    if participant.role == ParticipantRole.ORGANIZER:
        raise OrganizerParticipant("the organizer does not answer their own follow-up")
    return participant, follow_up


async def mark_seen(session: AsyncSession, actor: Actor, participant_id: uuid.UUID) -> Participant:
    """`not_read` becomes `seen`; anything else stays as it is (idempotent)."""
    participant, follow_up = await _own_invitation(session, actor, participant_id)
    if participant.status == ParticipantStatus.NOT_READ:
        await ParticipantRepository(session, actor.tenant_id).update(
            participant, {"status": ParticipantStatus.SEEN, "seen_at": utc_now()}
        )
        await record_event(
            session,
            follow_up,
            EventType.INVITATION_SEEN,
            participant_id=participant.id,
            associate_id=participant.associate_id,
            seen_at=participant.seen_at,
        )
    return participant


async def respond(
    session: AsyncSession, actor: Actor, participant_id: uuid.UUID, body: ResponseRequest
) -> Participant:
    """Accept, decline or answer tentative; the answer may change until a cancel freezes it."""
    participant, follow_up = await _own_invitation(session, actor, participant_id)
    if follow_up.status == FollowUpStatus.CANCELLED:
        raise FollowUpCancelled("the follow-up is cancelled; answers are frozen")
    previous = participant.status
    now = utc_now()
    await ParticipantRepository(session, actor.tenant_id).update(
        participant,
        {
            "status": ParticipantStatus(body.status),
            "comment": body.comment,
            "responded_at": now,
            "seen_at": participant.seen_at or now,
            "rescheduled": False,
            "acknowledged_at": None,
        },
    )
    await bookings.rebook_answer(session, follow_up, participant)
    await ResponseRepository(session, actor.tenant_id).add(
        Response(
            follow_up_id=follow_up.id,
            participant_id=participant.id,
            associate_id=actor.associate_id,
            status=body.status,
            previous_status=previous,
            comment=body.comment,
        )
    )
    await notify(
        session,
        follow_up,
        NotificationKind.RESPONDED,
        [(follow_up.owner_id, participant.id)],
        actor=actor.name,
        who=await _name(session, actor),
        status=body.status,
    )
    await record_event(
        session,
        follow_up,
        EventType(f"invitation.{body.status}"),
        participant_id=participant.id,
        associate_id=participant.associate_id,
        status=body.status,
        previous_status=previous,
        comment=body.comment,
        responded_at=now,
    )
    return participant
