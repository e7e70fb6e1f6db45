"""The one way an event is recorded: an `events` row and its webhook deliveries, in one go.

Both are written in the transaction of the change, so a rolled-back change leaves neither.
"""

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.db.base import new_id
from app.models import FollowUp
from app.models.states import PING, EventType
from app.webhooks.payloads import EventFacts, WebhookPing, check_facts, jsonable

# Dispatchers LISTEN on this channel; NOTIFY is delivered only when the transaction commits.
CHANNEL = "convene_webhooks"


@dataclass(frozen=True)
class RecordedEvent:
    """What the caller learns of the event it recorded."""

    id: uuid.UUID
    type: str
    seq: int | None
    deliveries: int


# The tail of every statement that records a follow-up's event: from a CTE
# `bumped(tenant_id, id, seq, data)` (the follow-up's seq just bumped under its row lock),
# insert the event with that seq and queue it for each enabled endpoint subscribed to its type.
EVENT_FAN_OUT = """event AS (
    INSERT INTO events (id, tenant_id, type, follow_up_id, seq, data)
    SELECT :event_id, tenant_id, :type, id, seq, data || jsonb_build_object('seq', seq)
    FROM bumped
    RETURNING id, tenant_id, type, follow_up_id, seq
), fanned AS (
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, follow_up_id, seq)
    SELECT w.tenant_id, w.id, event.id, event.follow_up_id, event.seq
    FROM event JOIN webhook_endpoints w ON w.tenant_id = event.tenant_id
    WHERE w.enabled AND event.type = ANY(w.event_types)
    RETURNING 1
)"""

# RECORD_EVENT's head: bump the follow-up's seq under its row lock.
_BUMP = """
WITH bumped AS (
    UPDATE follow_ups SET seq = seq + 1 WHERE tenant_id = :tenant_id AND id = :follow_up_id
    RETURNING tenant_id, id, seq, CAST(:data AS jsonb) AS data
), """
# After EVENT_FAN_OUT, a column that NOTIFYs the dispatchers if a delivery was queued.
NOTIFY_IF_QUEUED = "(SELECT pg_notify(:channel, '') FROM (SELECT FROM fanned LIMIT 1) AS queued)"
# RECORD_EVENT's result: the seq, the deliveries queued, and NOTIFY if any were.
_COUNTED_HEAD = """
SELECT event.seq,
       (SELECT count(*) FROM fanned) AS deliveries,
       """
_COUNTED_TAIL = """ AS notified
FROM event
"""
# Records an event under the follow-up's next seq and queues it for each subscribed endpoint.
# One statement, so one round trip; dispatchers are NOTIFYed only when a delivery was queued.
RECORD_EVENT = text(_BUMP + EVENT_FAN_OUT + _COUNTED_HEAD + NOTIFY_IF_QUEUED + _COUNTED_TAIL)

# Records a `webhook.ping` event and queues it for one endpoint, NOTIFYing the dispatchers.
QUEUE_PING = text("""
WITH event AS (
    INSERT INTO events (id, tenant_id, type, data)
    VALUES (:event_id, :tenant_id, :type, CAST(:data AS jsonb))
    RETURNING id, tenant_id
), queued AS (
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id)
    SELECT event.tenant_id, :endpoint_id, event.id FROM event
    RETURNING 1
)
SELECT (SELECT count(*) FROM queued), pg_notify(:channel, '')
""")


def event_data(
    tenant_id: uuid.UUID, follow_up_id: uuid.UUID, type_: EventType, facts: EventFacts
) -> str:
    """A follow-up's event's data as JSON, without its seq (its statement adds that)."""
    check_facts(type_, facts)
    payload = {"tenant_id": tenant_id, "follow_up_id": follow_up_id, **facts.model_dump()}
    return json.dumps(payload, default=jsonable)


async def record_event(
    session: AsyncSession, follow_up: FollowUp, type_: EventType, facts: EventFacts
) -> RecordedEvent:
    """Write an event about `follow_up` with its next `seq`; queue it for subscribed endpoints.

    `facts` is the type's model in `payloads.py`, which the OpenAPI document describes. The seq
    comes from an UPDATE of the follow-up's row, whose lock is held until commit, so two
    transactions changing one follow-up get rising seqs in the order they commit.
    """
    check_facts(type_, facts)  # before anything is written
    event_id = new_id()
    await session.flush()
    row = (
        await session.execute(
            RECORD_EVENT,
            {
                "tenant_id": follow_up.tenant_id,
                "follow_up_id": follow_up.id,
                "event_id": event_id,
                "type": type_,
                "data": event_data(follow_up.tenant_id, follow_up.id, type_, facts),
                "channel": CHANNEL,
            },
        )
    ).one()
    # The row already holds this seq: no ORM write of it at the next flush.
    set_committed_value(follow_up, "seq", row.seq)
    return RecordedEvent(event_id, type_, row.seq, row.deliveries)


async def record_ping(
    session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> RecordedEvent:
    """Write a `webhook.ping` event and queue it for that one endpoint only."""
    event_id = new_id()
    data = WebhookPing(tenant_id=tenant_id, endpoint_id=endpoint_id)
    row = (
        await session.execute(
            QUEUE_PING,
            {
                "event_id": event_id,
                "tenant_id": tenant_id,
                "endpoint_id": endpoint_id,
                "type": PING,
                "data": data.as_json(),
                "channel": CHANNEL,
            },
        )
    ).one()
    return RecordedEvent(event_id, PING, None, int(row[0]))
