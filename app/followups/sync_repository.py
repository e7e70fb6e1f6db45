"""Queries of the delta sync: the event log's settled end, and what changed in a diary since."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, tuple_

from app.db.repository import TenantRepository
from app.followups.sync_cursors import ORIGIN, Position
from app.models import Event, FollowUp, Participant
from app.models.states import EventType

# The tenant's last settled event in (txid, id) order: of a transaction older than every one
# still running (so nothing can commit before it in that order any more), or the caller's own.
NEWEST_SETTLED_EVENT = text("""
SELECT txid, id FROM events
WHERE tenant_id = :tenant_id
  AND (txid < CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)
       OR txid = CAST(CAST(pg_current_xact_id_if_assigned() AS text) AS bigint))
ORDER BY txid DESC, id DESC
LIMIT 1
""")


class SyncRepository(TenantRepository[Event]):
    model = Event
    noun = "event"

    async def newest_settled(self) -> Position:
        """The position up to which the tenant's event log can no longer change."""
        row = (
            await self.session.execute(NEWEST_SETTLED_EVENT, {"tenant_id": self.tenant_id})
        ).one_or_none()
        return ORIGIN if row is None else Position(int(row.txid), row.id)

    async def changes(
        self,
        associate_id: uuid.UUID,
        since: Position,
        until: Position,
        window: tuple[datetime, datetime],
        after_id: uuid.UUID | None,
        limit: int,
    ) -> Sequence[Any]:
        """The follow-ups with events in (since, until] that the associate's diary must hear of.

        In follow-up id order after `after_id`, at most `limit`: each with the follow-up, the
        associate's role and answer (null when no longer a participant) and whether they were
        taken off it (`taken_off`) or it moved (`moved`) in that span. A follow-up still theirs
        is listed when it overlaps the window, or moved (out of it); one that is no longer
        theirs only when they were taken off it, so no one learns of follow-ups not theirs.
        """
        in_span = and_(
            Event.tenant_id == self.tenant_id,
            Event.follow_up_id.is_not(None),
            tuple_(Event.txid, Event.id) > tuple_(since.txid, since.id),
            tuple_(Event.txid, Event.id) <= tuple_(until.txid, until.id),
        )
        if after_id is not None:
            in_span = and_(in_span, Event.follow_up_id > after_id)
        taken_off = and_(
            Event.type == EventType.PARTICIPANT_REMOVED,
            Event.data["associate_id"].astext == str(associate_id),
        )
        changed = (
            select(
                Event.follow_up_id,
                func.bool_or(taken_off).label("taken_off"),
                func.bool_or(Event.type == EventType.FOLLOW_UP_RESCHEDULED).label("moved"),
            )
            .where(in_span)
            .group_by(Event.follow_up_id)
            .cte("changed")
        )
        in_window = FollowUp.during.op("&&", is_comparison=True)(func.tstzrange(*window, "[)"))
        query = (
            select(
                FollowUp,
                Participant.role,
                Participant.status,
                changed.c.taken_off,
                in_window.label("in_window"),
            )
            .join_from(
                changed,
                FollowUp,
                and_(FollowUp.tenant_id == self.tenant_id, FollowUp.id == changed.c.follow_up_id),
            )
            .outerjoin(
                Participant,
                and_(
                    Participant.tenant_id == FollowUp.tenant_id,
                    Participant.follow_up_id == FollowUp.id,
                    Participant.associate_id == associate_id,
                ),
            )
            .where(
                or_(
                    and_(Participant.id.is_not(None), or_(in_window, changed.c.moved)),
                    and_(Participant.id.is_(None), changed.c.taken_off),
                )
            )
            .order_by(changed.c.follow_up_id)
            .limit(limit)
        )
        return (await self.session.execute(query)).all()
