"""Invitation rules: only the invitee answers; seen never overrides an answer; cancel freezes."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.db.base import utc_now
from app.db.driver import transaction
from app.followups.errors import (
    FollowUpCancelled,
    NotASeries,
    OccurrenceCancelled,
    OrganizerParticipant,
    UnknownOccurrence,
)
from app.followups.repository import (
    FOLLOW_UP_PREFIX,
    NEXT_PREFIX,
    FollowUpRepository,
    ParticipantRepository,
)
from app.followups.schemas import FollowUpSummary, OccurrenceAnswer
from app.invitations.repository import InvitationRepository
from app.invitations.schemas import AnsweredInvitation, NextOccurrence, ResponseRequest
from app.kit.errors import Forbidden, NotFound
from app.kit.pagination import PageParams
from app.kit.responses import built
from app.kit.zones import local_date
from app.models import FollowUp, Participant
from app.models.states import (
    EventType,
    FollowUpStatus,
    NotificationKind,
    ParticipantRole,
    ParticipantStatus,
)
from app.notifications.service import message_parts
from app.webhooks.events import record_event
from app.webhooks.payloads import InvitationAnswered, InvitationSeen


class NotInvitee(Forbidden):
    code = "not_invitee"
    title = "Not the invitee"
    description = "Only the invited associate may mark an invitation seen or answer it."


async def inbox(
    session: AsyncSession, actor: Actor, status: ParticipantStatus | None, page: PageParams
) -> dict[str, Any]:
    """The caller's invitations, newest first, each with its follow-up.

    A `Page[Invitation]` as plain data straight from the rows: the hottest list, no model per row.
    """
    rows = await ParticipantRepository(session, actor.tenant_id).invitations(
        actor.associate_id, status, page
    )
    return {"items": [_invitation(row) for row in rows.items], "next_cursor": rows.next_cursor}


# The summary's fields the statement reads; the all-day dates are worked out from them.
_READ = [name for name in FollowUpSummary.model_fields if name not in ("start_date", "end_date")]
_NEXT = list(NextOccurrence.model_fields)


def _invitation(row: Any) -> dict[str, Any]:
    invitation: dict[str, Any] = row._asdict()
    follow_up = {name: invitation.pop(FOLLOW_UP_PREFIX + name) for name in _READ}
    all_day, time_zone = follow_up["all_day"], follow_up["time_zone"]
    follow_up["start_date"] = local_date(follow_up["start_at"], time_zone) if all_day else None
    follow_up["end_date"] = local_date(follow_up["end_at"], time_zone) if all_day else None
    invitation["follow_up"] = follow_up
    next_ = {name: invitation.pop(NEXT_PREFIX + name) for name in _NEXT}
    invitation["next_occurrence"] = None if next_["occurrence_start"] is None else next_
    return invitation


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
            InvitationSeen(
                participant_id=participant.id,
                associate_id=participant.associate_id,
                seen_at=participant.seen_at,
            ),
        )
    return participant


async def respond(
    session: AsyncSession, actor: Actor, participant_id: uuid.UUID, body: ResponseRequest
) -> AnsweredInvitation:
    """Accept, decline or answer tentative, the series or one occurrence of it.

    The answer may change until a cancel freezes it. One statement does it all, taking the
    follow-up's row lock; without an Idempotency-Key it commits on its own, so answers to one
    follow-up queue for that statement only. One that finds the follow-up changed once it had
    the lock runs again in a transaction, under the lock.
    """
    invitations = InvitationRepository(session, actor.tenant_id)
    answered = await _answer(invitations, actor, participant_id, body)
    if answered is not None and answered.stale:
        async with transaction(session):
            # The first run here takes the lock (if a run on its own has let it go); with
            # the lock held, a run's new snapshot sees every change before it.
            answered = await _answer(invitations, actor, participant_id, body)
            if answered is not None and answered.stale:
                answered = await _answer(invitations, actor, participant_id, body)
    if answered is None or answered.id is None:
        await _refuse(invitations, actor, participant_id, body.occurrence)
    assert answered is not None
    occurrence = (
        None
        if answered.occurrence_start is None
        else built(
            OccurrenceAnswer,
            answered,
            prefix="occurrence_",
            occurrence_start=answered.occurrence_start,
        )
    )
    # Only resources have a first free time, and an invitee is a colleague.
    return built(AnsweredInvitation, answered, first_free_at=None, occurrence_answer=occurrence)


async def _answer(
    invitations: InvitationRepository,
    actor: Actor,
    participant_id: uuid.UUID,
    body: ResponseRequest,
) -> Any:
    """Run the answer's statement once: its row (see `InvitationRepository.answer`)."""
    now = utc_now()
    return await invitations.answer(
        participant_id,
        actor.associate_id,
        body.status,
        body.comment,
        now,
        occurrence=body.occurrence,
        actor=actor.name,
        message=message_parts(NotificationKind.RESPONDED, who=actor.who, status=body.status),
        event=InvitationAnswered(
            participant_id=participant_id,
            associate_id=actor.associate_id,
            status=body.status,
            occurrence_start=body.occurrence,
            # The text stays with the organizer and its author: endpoints (set by an admin,
            # anywhere) and the feed learn only that there is one.
            has_comment=bool(body.comment),
            responded_at=now,
        ),
    )


async def _refuse(
    invitations: InvitationRepository,
    actor: Actor,
    participant_id: uuid.UUID,
    occurrence: datetime | None,
) -> None:
    """Raise why the caller cannot answer this invitation (or this occurrence of it) now."""
    state = await invitations.state(participant_id, actor.associate_id, occurrence)
    if state is None or not state.visible:
        raise NotFound(f"invitation {participant_id} not found")
    if state.associate_id != actor.associate_id:
        raise NotInvitee("this invitation is someone else's")
    if state.role == ParticipantRole.ORGANIZER:
        raise OrganizerParticipant("the organizer does not answer their own follow-up")
    if state.follow_up_status == FollowUpStatus.CANCELLED:
        raise FollowUpCancelled("the follow-up is cancelled; answers are frozen")
    if occurrence is not None:
        if not state.series:
            raise NotASeries("the follow-up does not repeat: answer it without `occurrence`")
        if state.occurrence_cancelled is None:
            raise UnknownOccurrence(
                f"the series has no occurrence starting at {occurrence.isoformat()}"
            )
        if state.occurrence_cancelled:
            raise OccurrenceCancelled(f"the occurrence at {occurrence.isoformat()} is cancelled")
    raise NotFound(f"invitation {participant_id} not found")  # removed meanwhile
