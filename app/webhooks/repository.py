"""Queries of webhook endpoints, their delivery log, recovery, and the tenant's event feed."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Row, and_, func, or_, select, text, tuple_

from app.db.base import utc_now
from app.db.repository import TenantRepository
from app.kit.pagination import Paged, PageParams, paged_rows
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.states import PING, DeliveryStatus, EventType
from app.webhooks.events import CHANNEL

# Queues again an endpoint's failed deliveries of events since :since, and the events it missed.
# Missed: those it would have received but has no delivery of (it was disabled), back to its
# creation. Dispatchers are NOTIFYed only when something was queued.
RECOVER_DELIVERIES = text("""
WITH requeued AS (
    UPDATE webhook_deliveries d
    SET status = 'pending', attempts = 0, next_attempt_at = clock_timestamp()
    FROM events e
    WHERE d.tenant_id = :tenant_id AND d.endpoint_id = :endpoint_id AND d.status = 'failed'
      AND e.tenant_id = d.tenant_id AND e.id = d.event_id AND e.created_at >= :since
    RETURNING 1
), missed AS (
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, follow_up_id, seq)
    SELECT e.tenant_id, w.id, e.id, e.follow_up_id, e.seq
    FROM webhook_endpoints w
    JOIN events e ON e.tenant_id = w.tenant_id
        AND e.created_at >= greatest(CAST(:since AS timestamptz), w.created_at)
        AND e.type = ANY(w.event_types)
    WHERE w.tenant_id = :tenant_id AND w.id = :endpoint_id
    ON CONFLICT (tenant_id, event_id, endpoint_id) DO NOTHING
    RETURNING 1
), total AS (
    SELECT (SELECT count(*) FROM requeued) + (SELECT count(*) FROM missed) AS n
)
SELECT n, (SELECT pg_notify(:channel, '') WHERE n > 0) FROM total
""")

# The feed's condition, settled events: those whose transaction is older than every one still
# running (so no later commit can land before them in (txid, id) order), and the caller's own.
SETTLED_EVENTS = text(
    "(events.txid < CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint) "
    "OR events.txid = CAST(CAST(pg_current_xact_id_if_assigned() AS text) AS bigint))"
)


# Takes a transaction-scoped advisory lock on :key, held until commit or rollback.
LOCK_KEY = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


class WebhookRepository(TenantRepository[WebhookEndpoint]):
    model = WebhookEndpoint
    noun = "webhook"

    def _in_tenant(self) -> ColumnElement[bool]:
        # A deleted endpoint waits for the retention job, but it is gone for every reader.
        return and_(super()._in_tenant(), WebhookEndpoint.deleted_at.is_(None))

    async def lock_tenant(self) -> None:
        """Serialise registrations of one tenant until commit, so its cap holds under races."""
        await self.session.execute(LOCK_KEY, {"key": f"webhooks:{self.tenant_id}"})

    async def count(self) -> int:
        """How many endpoints the tenant has."""
        query = select(func.count()).select_from(WebhookEndpoint).where(self._in_tenant())
        return int(await self.session.scalar(query) or 0)

    async def get_for_update(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        """The endpoint, row-locked until commit (secret rotation reads then writes)."""
        query = (
            select(WebhookEndpoint)
            .where(self._in_tenant(), WebhookEndpoint.id == endpoint_id)
            .with_for_update()
        )
        return (await self.session.scalars(query)).one_or_none()

    async def mark_deleted(self, endpoint: WebhookEndpoint) -> None:
        """Mark the endpoint deleted and disabled (so nothing is queued or claimed for it)."""
        await self.update(endpoint, {"deleted_at": utc_now(), "enabled": False})

    async def spend_ping(self, endpoint: WebhookEndpoint, refilled_at: datetime) -> None:
        """Store the ping limit's new state; not a change of the endpoint (`updated_at` stays)."""
        endpoint.pings_refilled_at = refilled_at
        await self.session.flush()

    async def deliveries(
        self, endpoint_id: uuid.UUID, status: DeliveryStatus | None, page: PageParams
    ) -> tuple[Paged[Row[WebhookDelivery, str]], dict[uuid.UUID, list[WebhookAttempt]]]:
        """One page of the endpoint's deliveries, newest first, and each one's attempts."""
        query = (
            select(WebhookDelivery, Event.type)
            .join(
                Event,
                (Event.tenant_id == WebhookDelivery.tenant_id)
                & (Event.id == WebhookDelivery.event_id),
            )
            .where(
                WebhookDelivery.tenant_id == self.tenant_id,
                WebhookDelivery.endpoint_id == endpoint_id,
            )
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        if page.after is not None and page.after.at is not None:
            key = tuple_(WebhookDelivery.created_at, WebhookDelivery.id)
            query = query.where(key < tuple_(page.after.at, page.after.id))
        query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(
            page.limit + 1
        )
        cut = paged_rows((await self.session.execute(query)).all(), page, at="created_at")
        attempts: dict[uuid.UUID, list[WebhookAttempt]] = {row[0].id: [] for row in cut.items}
        if attempts:
            log = await self.session.scalars(
                select(WebhookAttempt)
                .where(
                    WebhookAttempt.tenant_id == self.tenant_id,
                    WebhookAttempt.delivery_id.in_(attempts),
                )
                .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
            )
            for attempt in log:
                attempts[attempt.delivery_id].append(attempt)
        return cut, attempts

    async def recover(self, endpoint_id: uuid.UUID, since: datetime) -> int:
        """Queue failed and missed deliveries of events since `since`; return how many."""
        row = (
            await self.session.execute(
                RECOVER_DELIVERIES,
                {
                    "tenant_id": self.tenant_id,
                    "endpoint_id": endpoint_id,
                    "since": since,
                    "channel": CHANNEL,
                },
            )
        ).one()
        return int(row[0])

    async def event(self, event_id: uuid.UUID) -> Event | None:
        """One of the tenant's events."""
        query = select(Event).where(Event.tenant_id == self.tenant_id, Event.id == event_id)
        return (await self.session.scalars(query)).one_or_none()

    async def events(
        self, after: Event | None, event_type: EventType | None, limit: int
    ) -> Sequence[Event]:
        """The tenant's settled events after `after`, oldest first, at most `limit`."""
        query = select(Event).where(Event.tenant_id == self.tenant_id, Event.type != PING)
        if event_type is not None:
            query = query.where(Event.type == event_type)
        if after is not None:
            query = query.where(
                or_(
                    Event.txid > after.txid,
                    and_(Event.txid == after.txid, Event.id > after.id),
                )
            )
        query = query.where(SETTLED_EVENTS).order_by(Event.txid, Event.id).limit(limit)
        return (await self.session.scalars(query)).all()
