"""The one way an event is recorded: a row in `events`, in the transaction of the change."""

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Event, FollowUp

EventType = Literal[
    "invitation.accepted",
    "invitation.declined",
    "invitation.tentative",
    "invitation.seen",
    "invitation.acknowledged",
    "follow_up.created",
    "follow_up.updated",
    "follow_up.rescheduled",
    "follow_up.cancelled",
    "follow_up.assigned",
    "participant.added",
    "participant.removed",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def record_event(
    session: AsyncSession, follow_up: FollowUp, type_: EventType, **data: Any
) -> Event:
    """Write an event about `follow_up` with the next `seq` of that follow-up.

    The seq comes from an UPDATE of the follow-up's row, whose lock is held until commit, so
    two transactions changing one follow-up get rising seqs in the order they commit.
    """
    seq = await session.scalar(
        update(FollowUp)
        .where(FollowUp.id == follow_up.id)
        .values(seq=FollowUp.seq + 1)
        .returning(FollowUp.seq)
    )
    assert seq is not None
    follow_up.seq = seq
    payload = {
        "tenant_id": str(follow_up.tenant_id),
        "follow_up_id": str(follow_up.id),
        **{key: _jsonable(value) for key, value in data.items()},
        "seq": seq,
    }
    event = Event(
        tenant_id=follow_up.tenant_id,
        type=type_,
        follow_up_id=follow_up.id,
        seq=seq,
        data=payload,
    )
    session.add(event)
    await session.flush()
    return event
