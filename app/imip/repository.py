"""The SQL of e-mailed invitations: what a message says, the outbox, and a person's reply."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.db.base import StrEnumText, new_id
from app.models import Participant
from app.models.mail import ImipMethod
from app.models.states import ParticipantStatus

# The follow-up as its calendar part shows it, with its organizer's name and address.
FOLLOW_UP_VIEW = text("""
SELECT f.id, f.seq, f.title, f.description, f.location, f.start_at, f.end_at, f.time_zone,
       f.all_day, f.status, f.created_at, f.updated_at, a.name AS owner_name,
       a.email AS owner_email
FROM follow_ups f
JOIN associates a ON a.tenant_id = f.tenant_id AND a.id = f.owner_id
WHERE f.tenant_id = :tenant_id AND f.id = :follow_up_id
""")

# A person's name and address (for the cancel sent after they were taken off).
PERSON_ADDRESS = text("""
SELECT id, name, email FROM persons WHERE tenant_id = :tenant_id AND id = :person_id
""")

# Asks the follow-up's e-mailed persons for an answer: never asked before (`not_applicable`),
# or, after a move, whatever they answered.
MARK_INVITED = text("""
UPDATE participants SET status = 'invited', updated_at = now()
WHERE tenant_id = :tenant_id AND follow_up_id = :follow_up_id AND person_id = ANY(:person_ids)
  AND (status = 'not_applicable' OR (:moved AND status <> 'invited'))
""")

# Queues messages (one per recipient); the worker sends them after the commit.
QUEUE_MESSAGES = text("""
INSERT INTO mail_messages (tenant_id, id, follow_up_id, person_id, recipient, method, sequence,
                           message)
SELECT :tenant_id, m.id, :follow_up_id, m.person_id, m.recipient, :method, :sequence, m.message
FROM jsonb_to_recordset(CAST(:messages AS jsonb))
    AS m(id uuid, person_id uuid, recipient text, message text)
""")

# Leases up to :limit due messages to :claim_token (FOR UPDATE SKIP LOCKED: any number of
# workers share the queue), oldest due first.
CLAIM_MESSAGES = text("""
WITH due AS (
    SELECT tenant_id, id FROM mail_messages
    WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE mail_messages m
SET status = 'delivering', attempts = m.attempts + 1, claim_token = :claim_token,
    lease_until = clock_timestamp() + make_interval(secs => :lease_seconds)
FROM due
WHERE m.tenant_id = due.tenant_id AND m.id = due.id
RETURNING m.tenant_id, m.id, m.recipient, m.message, m.attempts
""")

# Puts messages whose lease ran out (their worker died mid-send) back in the queue.
REAP_MESSAGES = text("""
UPDATE mail_messages SET status = 'pending', lease_until = NULL, claim_token = NULL
WHERE status = 'delivering' AND lease_until < clock_timestamp()
""")

# Closes one attempt: sent, to be retried after :delay_seconds, or given up.
CLOSE_MESSAGE = text("""
UPDATE mail_messages
SET status = CAST(:status AS text), lease_until = NULL, claim_token = NULL,
    last_error = :error,
    next_attempt_at = CASE WHEN CAST(:status AS text) = 'pending'
        THEN clock_timestamp() + make_interval(secs => :delay_seconds)
        ELSE next_attempt_at END,
    sent_at = CASE WHEN CAST(:status AS text) = 'succeeded' THEN clock_timestamp() END,
    updated_at = clock_timestamp()
WHERE tenant_id = :tenant_id AND id = :id AND claim_token = :claim_token
""")

# How many messages are due now and not claimed.
MAIL_QUEUE_DEPTH = text("""
SELECT count(*) FROM mail_messages
WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
""")

# The follow-up a reply answers, locked so answers and the organizer's changes queue up (with
# its zone and whether it repeats, for a reply to one occurrence), the person participant the
# reply comes from (matched by address, case-insensitively), and the SEQUENCE of the last
# request e-mailed to them.
REPLY_TARGET = text("""
WITH f AS (
    SELECT f.tenant_id, f.id, f.status, f.owner_id, f.time_zone, f.recurrence_rule
    FROM follow_ups f
    WHERE f.tenant_id = :tenant_id AND f.id = :follow_up_id
    FOR NO KEY UPDATE OF f
)
SELECT f.id AS follow_up_id, f.status AS follow_up_status, f.owner_id, f.time_zone,
       f.recurrence_rule IS NOT NULL AS series,
       p.id AS participant_id, p.person_id, p.status, pe.name,
       (SELECT max(m.sequence) FROM mail_messages m
        WHERE m.tenant_id = f.tenant_id AND m.follow_up_id = f.id
          AND m.person_id = p.person_id AND m.method = 'REQUEST') AS asked_sequence
FROM f
LEFT JOIN participants p
    ON p.tenant_id = f.tenant_id AND p.follow_up_id = f.id AND p.kind = 'person'
   AND p.person_id IN (SELECT pe2.id FROM persons pe2
                       WHERE pe2.tenant_id = f.tenant_id AND lower(pe2.email) = lower(:email))
LEFT JOIN persons pe ON pe.tenant_id = p.tenant_id AND pe.id = p.person_id
ORDER BY p.id
LIMIT 1
""").columns(status=StrEnumText(ParticipantStatus))

# A person's answer: the participant's new status and the response history's row. Being the
# series' answer, it replaces their answers to single occurrences, as a colleague's does.
RECORD_REPLY = text("""
WITH upd AS (
    UPDATE participants
    SET status = :status, comment = :comment, responded_at = :now,
        seen_at = coalesce(seen_at, :now), rescheduled = false, acknowledged_at = NULL,
        updated_at = :now
    WHERE tenant_id = :tenant_id AND id = :participant_id
    RETURNING tenant_id, follow_up_id, id, person_id
), reset AS (
    DELETE FROM occurrence_answers a USING upd
    WHERE a.tenant_id = upd.tenant_id AND a.participant_id = upd.id
)
INSERT INTO responses (id, tenant_id, follow_up_id, participant_id, person_id, status,
                       previous_status, comment, created_at, updated_at)
SELECT :response_id, upd.tenant_id, upd.follow_up_id, upd.id, upd.person_id, :status,
       :previous_status, :comment, :now, :now
FROM upd
""")

# A person's answer to one occurrence of a series, as a colleague's (app/invitations ANSWER)
# but with no booking: their answer to it (`occurrence_answers`), the invitation marked seen
# (its status stays), and the response history's row naming the occurrence. Nothing is
# written when the series has no live occurrence at that original start: `cancelled` says
# which (null: none there). `previous_status` is the person's answer to it before, or to
# the series.
RECORD_OCCURRENCE_REPLY = text("""
WITH o AS (
    SELECT o.cancelled FROM occurrences o
    WHERE o.tenant_id = :tenant_id AND o.follow_up_id = :follow_up_id
      AND o.original_start = :occurrence
), old AS (
    SELECT coalesce(
        (SELECT a.status FROM occurrence_answers a
         WHERE a.tenant_id = :tenant_id AND a.participant_id = :participant_id
           AND a.occurrence_start = :occurrence),
        CAST(:previous_status AS text)) AS status
), answered AS (
    INSERT INTO occurrence_answers (tenant_id, participant_id, occurrence_start, follow_up_id,
                                    status, comment, responded_at, rescheduled)
    SELECT :tenant_id, :participant_id, :occurrence, :follow_up_id, :status, :comment, :now,
           false
    FROM o
    WHERE NOT o.cancelled
    ON CONFLICT (tenant_id, participant_id, occurrence_start) DO UPDATE
        SET status = excluded.status, comment = excluded.comment,
            responded_at = excluded.responded_at, rescheduled = false
    RETURNING occurrence_start
), seen AS (
    UPDATE participants SET seen_at = coalesce(seen_at, :now), updated_at = :now
    FROM answered
    WHERE tenant_id = :tenant_id AND id = :participant_id
), kept AS (
    INSERT INTO responses (id, tenant_id, follow_up_id, participant_id, person_id, status,
                           previous_status, comment, occurrence_start, created_at, updated_at)
    SELECT :response_id, :tenant_id, :follow_up_id, :participant_id, :person_id, :status,
           old.status, :comment, answered.occurrence_start, :now, :now
    FROM answered, old
)
SELECT (SELECT o.cancelled FROM o) AS cancelled, old.status AS previous_status FROM old
""").columns(previous_status=StrEnumText(ParticipantStatus))


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds the lease of."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    token: uuid.UUID
    recipient: str
    message: str
    attempt: int


@dataclass(frozen=True)
class Queued:
    """One message to queue: its recipient and the whole RFC 5322 text."""

    person_id: uuid.UUID
    recipient: str
    message: str


class ImipRepository:
    """E-mailed invitations' reads and writes inside one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def follow_up_view(self, follow_up_id: uuid.UUID) -> Row[Any]:
        """The follow-up's columns a calendar shows, its organizer's name and e-mail."""
        params = {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id}
        return (await self.session.execute(FOLLOW_UP_VIEW, params)).one()

    async def person(self, person_id: uuid.UUID) -> Row[Any] | None:
        """A person's id, name and e-mail."""
        params = {"tenant_id": self.tenant_id, "person_id": person_id}
        return (await self.session.execute(PERSON_ADDRESS, params)).one_or_none()

    async def mark_invited(
        self, follow_up_id: uuid.UUID, person_ids: Sequence[uuid.UUID], *, moved: bool
    ) -> None:
        """Set these persons `invited`: those never asked, and after a move every one."""
        params = {
            "tenant_id": self.tenant_id,
            "follow_up_id": follow_up_id,
            "person_ids": list(person_ids),
            "moved": moved,
        }
        await self.session.execute(MARK_INVITED, params)
        # Participants this session already holds show the new status (no re-read).
        for held in list(self.session.identity_map.values()):
            if (
                isinstance(held, Participant)
                and held.follow_up_id == follow_up_id
                and held.person_id in person_ids
                and (moved or held.status == ParticipantStatus.NOT_APPLICABLE)
            ):
                set_committed_value(held, "status", ParticipantStatus.INVITED)

    async def queue(
        self,
        follow_up_id: uuid.UUID,
        method: ImipMethod,
        sequence: int,
        messages: Sequence[Queued],
    ) -> None:
        """Write the messages to the outbox, in the transaction of the change they announce."""
        records = [
            {
                "id": str(new_id()),
                "person_id": str(m.person_id),
                "recipient": m.recipient,
                "message": m.message,
            }
            for m in messages
        ]
        params = {
            "tenant_id": self.tenant_id,
            "follow_up_id": follow_up_id,
            "method": method.value,
            "sequence": sequence,
            "messages": json.dumps(records, ensure_ascii=False),
        }
        await self.session.execute(QUEUE_MESSAGES, params)

    async def reply_target(self, follow_up_id: uuid.UUID, email: str) -> Row[Any] | None:
        """The follow-up (locked) and the person participant with this address; None: no follow-up.

        The participant's columns are null when no person of the follow-up has the address.
        """
        params = {"tenant_id": self.tenant_id, "follow_up_id": follow_up_id, "email": email}
        return (await self.session.execute(REPLY_TARGET, params)).one_or_none()

    async def record_reply(
        self,
        participant_id: uuid.UUID,
        status: str,
        previous_status: ParticipantStatus,
        comment: str | None,
        now: datetime,
    ) -> None:
        """Write the person's answer on their participant row and in the response history."""
        params = {
            "tenant_id": self.tenant_id,
            "participant_id": participant_id,
            "status": status,
            "previous_status": previous_status.value,
            "comment": comment,
            "now": now,
            "response_id": new_id(),
        }
        await self.session.execute(RECORD_REPLY, params)

    async def record_occurrence_reply(
        self,
        target: Any,
        occurrence: datetime,
        status: str,
        comment: str | None,
        now: datetime,
    ) -> Row[Any]:
        """Write the person's answer to one occurrence and its response history's row.

        `target` is the row of `reply_target`. The row says whether the occurrence is
        `cancelled` (null: the series has none at that start; then nothing was written) and
        the person's `previous_status` for it.
        """
        params = {
            "tenant_id": self.tenant_id,
            "follow_up_id": target.follow_up_id,
            "participant_id": target.participant_id,
            "person_id": target.person_id,
            "occurrence": occurrence,
            "status": status,
            "previous_status": target.status.value,
            "comment": comment,
            "now": now,
            "response_id": new_id(),
        }
        return (await self.session.execute(RECORD_OCCURRENCE_REPLY, params)).one()


async def claim(connection: AsyncConnection, limit: int, lease_seconds: float) -> list[Claimed]:
    """Lease up to `limit` due messages to this worker (commit before sending)."""
    token = uuid.uuid4()
    rows = await connection.execute(
        CLAIM_MESSAGES, {"limit": limit, "lease_seconds": lease_seconds, "claim_token": token}
    )
    return [
        Claimed(row.tenant_id, row.id, token, row.recipient, row.message, row.attempts)
        for row in rows
    ]


async def reap(connection: AsyncConnection) -> int:
    """Put messages whose lease ran out back in the queue; how many."""
    return (await connection.execute(REAP_MESSAGES)).rowcount


async def close(
    connection: AsyncConnection,
    claimed: Claimed,
    status: str,
    delay_seconds: float,
    error: str | None,
) -> None:
    """Record how the attempt went (only through the lease that sent it)."""
    await connection.execute(
        CLOSE_MESSAGE,
        {
            "tenant_id": claimed.tenant_id,
            "id": claimed.id,
            "claim_token": claimed.token,
            "status": status,
            "delay_seconds": delay_seconds,
            "error": error,
        },
    )


async def depth(connection: AsyncConnection | AsyncSession) -> int:
    """How many messages are due now and not claimed."""
    return int((await connection.execute(MAIL_QUEUE_DEPTH)).scalar_one())
