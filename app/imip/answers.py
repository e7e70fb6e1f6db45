"""An external person's e-mailed answer: their status, the response history, the event.

Like a colleague's answer (app/invitations), but the person has no diary (no bookings) and
the answer comes from an integration posting the reply, not from the person's own token.
"""

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Principal
from app.db.base import utc_now
from app.followups import schemas
from app.followups.errors import (
    FollowUpCancelled,
    NotASeries,
    OccurrenceCancelled,
    UnknownOccurrence,
)
from app.followups.repository import FollowUpRepository, ParticipantRepository
from app.followups.views import participant_view
from app.imip.errors import StaleReply, UnknownAttendee, UnknownEvent
from app.imip.replies import Reply
from app.imip.repository import ImipRepository
from app.models.states import EventType, FollowUpStatus, NotificationKind, ParticipantStatus
from app.notifications.service import notify
from app.webhooks.events import record_event
from app.webhooks.payloads import EmailedAnswer


async def record_reply(
    session: AsyncSession, principal: Principal, reply: Reply
) -> schemas.Participant:
    """Set the replying person's status from their PARTSTAT; tell the organizer; publish it.

    A reply with a RECURRENCE-ID answers that occurrence of the series alone, as a
    colleague's answer with `occurrence` does (the same problems when it cannot). The
    follow-up is locked first, so the reply queues behind the organizer's changes (and other
    answers) to it, as a colleague's answer does.
    """
    tenant_id = principal.tenant_id
    repository = ImipRepository(session, tenant_id)
    target = await repository.reply_target(reply.follow_up_id, reply.email)
    if target is None:
        raise UnknownEvent(f"no follow-up {reply.follow_up_id}")
    if target.follow_up_status == FollowUpStatus.CANCELLED:
        raise FollowUpCancelled("the follow-up is cancelled; answers are frozen")
    if target.participant_id is None:
        raise UnknownAttendee(f"no person of follow-up {reply.follow_up_id} has that address")
    asked = target.asked_sequence
    if reply.sequence is not None and asked is not None and reply.sequence < asked:
        raise StaleReply(f"the reply answers SEQUENCE {reply.sequence}; the last asked was {asked}")
    now = utc_now()
    occurrence = reply.occurrence_start(target.time_zone)
    previous_status = target.status
    if occurrence is None:
        await repository.record_reply(
            target.participant_id, reply.status.value, target.status, reply.comment, now
        )
    else:
        previous_status = await _record_occurrence_reply(repository, target, reply, occurrence, now)
    follow_up = await FollowUpRepository(session, tenant_id).get(reply.follow_up_id)
    assert follow_up is not None  # locked above
    await notify(
        session,
        follow_up,
        NotificationKind.RESPONDED,
        [(target.owner_id, target.participant_id)],
        actor=None,
        who=target.name,
        status=reply.status.value,
    )
    await record_event(
        session,
        follow_up,
        EventType(f"invitation.{reply.status.value}"),
        EmailedAnswer(
            participant_id=target.participant_id,
            associate_id=None,
            person_id=target.person_id,
            status=reply.status,
            has_comment=bool(reply.comment),
            occurrence_start=occurrence,
            responded_at=now,
            previous_status=previous_status,
        ),
    )
    participant = await ParticipantRepository(session, tenant_id).get(target.participant_id)
    assert participant is not None
    return await participant_view(session, participant)


async def _record_occurrence_reply(
    repository: ImipRepository, target: Any, reply: Reply, occurrence: datetime, now: datetime
) -> ParticipantStatus:
    """Record the answer to one occurrence; its previous status. 422/409 as a colleague's."""
    if not target.series:
        raise NotASeries("the follow-up does not repeat: a reply to it has no RECURRENCE-ID")
    recorded = await repository.record_occurrence_reply(
        target, occurrence, reply.status.value, reply.comment, now
    )
    if recorded.cancelled is None:
        raise UnknownOccurrence(
            f"the series has no occurrence starting at {occurrence.isoformat()}"
        )
    if recorded.cancelled:
        raise OccurrenceCancelled(f"the occurrence at {occurrence.isoformat()} is cancelled")
    previous: ParticipantStatus = recorded.previous_status
    return previous
