"""The invitee's answer as one statement, inside one tenant: the hot path of the service."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import StrEnumText, new_id
from app.models.states import Answer, ParticipantKind, ParticipantRole, ParticipantStatus
from app.notifications.service import MAX_MESSAGE
from app.webhooks.events import CHANNEL, EVENT_FAN_OUT
from app.webhooks.payloads import InvitationAnswered

# What ANSWER changes, up to the seq bump its event is recorded under.
_ANSWER_CHANGES = """
WITH f AS (
    SELECT f.tenant_id, f.id, f.owner_id, f.title, f.during, f.start_at, f.recurrence_rule
    FROM follow_ups f
    WHERE f.tenant_id = :tenant_id
      AND f.id = (SELECT follow_up_id FROM participants
                  WHERE tenant_id = :tenant_id AND id = :participant_id)
      AND f.status = 'scheduled'
    FOR NO KEY UPDATE OF f
), spans AS (
    SELECT f.start_at AS occurrence_start, f.during FROM f WHERE f.recurrence_rule IS NULL
    UNION ALL
    SELECT o.original_start, o.during
    FROM occurrences o JOIN f ON o.tenant_id = f.tenant_id AND o.follow_up_id = f.id
    WHERE NOT o.cancelled
), old AS (
    SELECT p.id, p.status, p.seen_at
    FROM participants p JOIN f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
    WHERE p.tenant_id = :tenant_id
      AND p.id = :participant_id
      AND p.associate_id = :associate_id
      AND p.role <> 'organizer'
    FOR UPDATE OF p
), upd AS (
    UPDATE participants p
    SET status = :status, comment = :comment, responded_at = :now,
        seen_at = coalesce(old.seen_at, :now), rescheduled = false, acknowledged_at = NULL,
        updated_at = :now
    FROM old
    WHERE p.tenant_id = :tenant_id AND p.id = old.id
    RETURNING p.id, p.tenant_id, p.follow_up_id, p.kind, p.associate_id, p.resource_id,
              p.person_id, p.role, p.status, p.comment, p.responded_at, p.seen_at,
              p.rescheduled, p.acknowledged_at, old.status AS previous_status
), booked AS (
    INSERT INTO bookings (participant_id, tenant_id, follow_up_id, calendar_kind, calendar_id,
                          during, tentative, strict, occurrence_start)
    SELECT upd.id, upd.tenant_id, upd.follow_up_id, 'associate', upd.associate_id, spans.during,
           :tentative, false, spans.occurrence_start
    FROM upd, spans
    WHERE :blocks
    ON CONFLICT (tenant_id, participant_id, occurrence_start) DO UPDATE
        SET tentative = excluded.tentative, during = excluded.during
), unbooked AS (
    DELETE FROM bookings b USING upd
    WHERE b.tenant_id = upd.tenant_id AND b.participant_id = upd.id AND NOT :blocks
), kept AS (
    INSERT INTO responses (id, tenant_id, follow_up_id, participant_id, associate_id, status,
                           previous_status, comment)
    SELECT :response_id, upd.tenant_id, upd.follow_up_id, upd.id, upd.associate_id, :status,
           upd.previous_status, :comment
    FROM upd
), told AS (
    INSERT INTO notifications (id, tenant_id, associate_id, kind, follow_up_id, participant_id,
                               actor_id, message)
    SELECT :notification_id, f.tenant_id, f.owner_id, 'responded', f.id, upd.id,
           CAST(:actor AS text),
           left(:message_before || f.title || :message_after, :max_message)
    FROM upd, f
    WHERE f.owner_id::text <> CAST(:actor AS text)
), bumped AS (
    UPDATE follow_ups SET seq = seq + 1
    FROM upd
    WHERE follow_ups.tenant_id = upd.tenant_id AND follow_ups.id = upd.follow_up_id
    RETURNING follow_ups.tenant_id, follow_ups.id, follow_ups.seq,
              CAST(:data AS jsonb) || jsonb_build_object(
                  'tenant_id', upd.tenant_id, 'follow_up_id', upd.follow_up_id,
                  'previous_status', upd.previous_status) AS data
), """
# What ANSWER returns: the invitation as answered, with its name and conflict flag.
_ANSWER_RESULT = """
SELECT upd.id, upd.kind, upd.associate_id, upd.resource_id, upd.person_id,
       (SELECT a.name FROM associates a
        WHERE a.tenant_id = upd.tenant_id AND a.id = upd.associate_id) AS display_name,
       upd.role, upd.status, upd.comment, upd.responded_at, upd.seen_at, upd.rescheduled,
       upd.acknowledged_at, upd.previous_status, event.seq,
       :blocks AND EXISTS (
           SELECT FROM spans JOIN bookings o
               ON o.tenant_id = f.tenant_id AND o.calendar_id = upd.associate_id
              AND o.during && spans.during AND o.follow_up_id <> f.id
       ) AS conflict,
       (SELECT count(*) FROM fanned) AS deliveries,
       (SELECT pg_notify(:channel, '') FROM (SELECT FROM fanned LIMIT 1) AS queued) AS notified
FROM upd, f, event
"""
# Records an answer, all in one statement: lock the follow-up (so answers and organizer
# changes to it queue up, and only for this statement before the commit), re-read the
# invitation under that lock, write the answer, rewrite its bookings (one per span the
# follow-up blocks: its own, or each live occurrence of a series), keep the response
# history, tell the organizer, and record the event under the next seq with its deliveries.
# No row: the invitation is not the caller's to answer now (the caller finds out why).
ANSWER = text(_ANSWER_CHANGES + EVENT_FAN_OUT + _ANSWER_RESULT).columns(
    kind=StrEnumText(ParticipantKind),
    role=StrEnumText(ParticipantRole),
    status=StrEnumText(ParticipantStatus),
    previous_status=StrEnumText(ParticipantStatus),
)

# Why an invitation cannot be answered: what the caller may learn of it, without locks.
INVITATION_STATE = text("""
SELECT p.associate_id, p.role, f.status,
       EXISTS (SELECT FROM participants v
               WHERE v.tenant_id = f.tenant_id AND v.follow_up_id = f.id
                 AND v.associate_id = :associate_id) AS visible
FROM participants p
JOIN follow_ups f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
WHERE p.tenant_id = :tenant_id AND p.id = :participant_id
""")


@dataclass(frozen=True)
class InvitationState:
    """An invitation as the caller may see it, to say why it cannot be answered."""

    associate_id: uuid.UUID | None
    role: ParticipantRole
    follow_up_status: str
    visible: bool


class InvitationRepository:
    """The invitee's writes on their invitations, inside one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def answer(
        self,
        participant_id: uuid.UUID,
        associate_id: uuid.UUID,
        status: Answer,
        comment: str | None,
        now: datetime,
        *,
        actor: str,
        message: tuple[str, str],
        event: InvitationAnswered,
    ) -> Row[Any] | None:
        """Record the answer in one statement; None if the invitation is not answerable.

        The row holds the invitation's columns as a participant shows them, `previous_status`,
        `seq`, `conflict` and `deliveries` (how many webhook deliveries the event queued).
        """
        row = (
            await self.session.execute(
                ANSWER,
                {
                    "tenant_id": self.tenant_id,
                    "participant_id": participant_id,
                    "associate_id": associate_id,
                    "status": status.value,
                    "blocks": status != Answer.DECLINED,
                    "tentative": status == Answer.TENTATIVE,
                    "comment": comment,
                    "now": now,
                    "response_id": new_id(),
                    "notification_id": new_id(),
                    "actor": actor,
                    "message_before": message[0],
                    "message_after": message[1],
                    "max_message": MAX_MESSAGE,
                    "event_id": new_id(),
                    "type": f"invitation.{status.value}",
                    "data": event.as_json(),
                    "channel": CHANNEL,
                },
            )
        ).one_or_none()
        return row

    async def state(
        self, participant_id: uuid.UUID, associate_id: uuid.UUID
    ) -> InvitationState | None:
        """The invitation's owner, role and follow-up status, or None if there is none."""
        row = (
            await self.session.execute(
                INVITATION_STATE,
                {
                    "tenant_id": self.tenant_id,
                    "participant_id": participant_id,
                    "associate_id": associate_id,
                },
            )
        ).one_or_none()
        if row is None:
            return None
        return InvitationState(row.associate_id, ParticipantRole(row.role), row.status, row.visible)
