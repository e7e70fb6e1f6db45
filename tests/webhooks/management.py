"""What the webhook management API tests share: the fields, the calls, and the rows they read."""

import uuid
from datetime import datetime, timedelta
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.responses import ok
from tests.webhooks.support import RESPONSES

Body = dict[str, Any]

PUBLIC = "https://93.184.215.14/hook"
PUBLIC_V6 = "https://[2606:4700::1]/x"
WEBHOOK_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "failing_since",
    "previous_secret_expires_at",
}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "delivered_at",
    "last_status_code",
    "last_error",
    "attempt_log",
}
EVENT_FIELDS = {"id", "type", "timestamp", "follow_up_id", "seq", "data"}

ENDPOINTS = WebhookEndpoint.__table__
DELIVERIES = WebhookDelivery.__table__
ATTEMPTS = WebhookAttempt.__table__
EVENTS = Event.__table__


def at(value: str) -> datetime:
    """An ISO 8601 time that carries its offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def close_to(value: datetime, expected: datetime, within: timedelta = timedelta(minutes=1)) -> bool:
    return abs(value - expected) <= within


async def subscribe(
    admin: Caller, event_types: list[str] | None = None, url: str = PUBLIC, **fields: Any
) -> Body:
    """Register a webhook; the answer carries its secret."""
    return await admin.create(
        "/v1/webhooks", {"url": url, "event_types": event_types or RESPONSES, **fields}
    )


async def webhook(admin: Caller, webhook_id: str) -> Body:
    found: Body = ok(await admin.get(f"/v1/webhooks/{webhook_id}"))
    return found


async def invite(organizer: Caller, invitee: Caller) -> tuple[str, str]:
    """A follow-up of the organizer inviting the invitee: its id and the invitation's."""
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": invitee.subject}])
    )
    (invitation,) = [p for p in created["participants"] if p["associate_id"] == invitee.subject]
    return created["id"], invitation["id"]


async def respond(invitee: Caller, participant_id: str, status: str) -> None:
    response = await invitee.post(
        f"/v1/invitations/{participant_id}/response", json={"status": status}
    )
    assert response.status_code == 200, response.text


async def answered(admin: Caller, status: str = "accepted") -> tuple[str, str, Caller]:
    """A follow-up whose invitee answered: the follow-up, the invitation and the invitee."""
    organizer = await admin.new_member(name="Olga Organizer")
    invitee = await admin.new_member(name="Ivan Invitee")
    follow_up_id, participant_id = await invite(organizer, invitee)
    await respond(invitee, participant_id, status)
    return follow_up_id, participant_id, invitee


async def deliveries(admin: Caller, webhook_id: str, **params: Any) -> list[Body]:
    """Every delivery of the webhook (one page), newest first."""
    page = ok(await admin.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params))
    assert page["next_cursor"] is None
    found: list[Body] = page["items"]
    return found


async def feed(admin: Caller, **params: Any) -> Body:
    page: Body = ok(await admin.get("/v1/events", params=params))
    return page


async def endpoint_row(connection: AsyncConnection, webhook_id: str) -> Row[Any]:
    query = select(ENDPOINTS).where(ENDPOINTS.c.id == uuid.UUID(webhook_id))
    return (await connection.execute(query)).one()


async def delivery_rows(connection: AsyncConnection, **where: Any) -> list[Row[Any]]:
    """Delivery rows matching column = value (uuid strings allowed), oldest first."""
    query = select(DELIVERIES).order_by(DELIVERIES.c.created_at)
    for column, value in where.items():
        value = uuid.UUID(value) if isinstance(value, str) and column.endswith("_id") else value
        query = query.where(DELIVERIES.c[column] == value)
    return list((await connection.execute(query)).all())


async def endpoint_count(connection: AsyncConnection, tenant: uuid.UUID) -> int:
    """The tenant's endpoints, those deleted (and waiting to be purged) left out."""
    query = (
        select(func.count())
        .select_from(ENDPOINTS)
        .where(ENDPOINTS.c.tenant_id == tenant, ENDPOINTS.c.deleted_at.is_(None))
    )
    return int(await connection.scalar(query) or 0)


async def event_rows(connection: AsyncConnection, tenant: uuid.UUID) -> list[Row[Any]]:
    query = select(EVENTS).where(EVENTS.c.tenant_id == tenant).order_by(EVENTS.c.id)
    return list((await connection.execute(query)).all())


async def execute(connection: AsyncConnection, sql: str, **params: Any) -> None:
    await connection.execute(text(sql), params)


def loopback_settings(data_dir: Path) -> Settings:
    """The test settings with http to 127.0.0.0/8 allowed, as for a local receiver."""
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=data_dir,
        database_url=None,
        webhook_allow_http=True,
        webhook_allowed_networks=[IPv4Network("127.0.0.0/8")],
    )
