"""Pinging a webhook: one ping event and one delivery for that endpoint only."""

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    deliveries,
    delivery_rows,
    event_rows,
    subscribe,
)


async def test_ping_queues_one_delivery_for_that_endpoint_only(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    pinged = await subscribe(admin)
    other = await subscribe(admin, ["invitation.accepted", "follow_up.created"])

    response = await admin.post(f"/v1/webhooks/{pinged['id']}/ping")

    body = ok(response, 202)
    assert set(body) == {"event_id"}
    event_id = uuid.UUID(body["event_id"])
    (event,) = [e for e in await event_rows(connection, tenant) if e.id == event_id]
    assert event.type == "webhook.ping"
    assert event.follow_up_id is None
    assert event.data == {"tenant_id": str(tenant), "endpoint_id": pinged["id"]}
    (row,) = await delivery_rows(connection, event_id=str(event_id))
    assert row.endpoint_id == uuid.UUID(pinged["id"])
    assert row.tenant_id == tenant
    assert row.status == "pending"
    assert await delivery_rows(connection, endpoint_id=other["id"]) == []
    (logged,) = await deliveries(admin, pinged["id"])
    assert logged["event_id"] == str(event_id)
    assert logged["event_type"] == "webhook.ping"
    assert await deliveries(admin, other["id"]) == []
    # Pings are not events of the feed.
    assert ok(await admin.get("/v1/events"))["items"] == []


async def test_ping_on_a_disabled_webhook_is_409(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin)
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))

    response = await admin.post(f"/v1/webhooks/{created['id']}/ping")

    assert_problem(response, 409, "webhook_disabled")
    assert await event_rows(connection, tenant) == []
    assert await delivery_rows(connection, endpoint_id=created["id"]) == []


async def test_ping_unknown_webhook_is_404(admin: Caller) -> None:
    assert_problem(await admin.post(f"/v1/webhooks/{uuid.uuid4()}/ping"), 404, "not_found")
