"""Pinging a webhook: one ping event and one delivery for that endpoint only, 5 a minute."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.webhooks.ping_limit import take_ping
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    deliveries,
    delivery_rows,
    event_rows,
    subscribe,
    webhook,
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


# The ping limit -----------------------------------------------------------------------------

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_burst_of_the_limit_passes_and_the_next_waits_one_interval() -> None:
    state = None
    for n in range(5):
        turn = take_ping(state, NOW, per_minute=5)
        assert turn.allowed, n
        state = turn.refilled_at
    assert state == NOW + timedelta(minutes=1)

    refused = take_ping(state, NOW, per_minute=5)

    assert (refused.allowed, refused.retry_after) == (False, 12)
    # Twelve seconds later (a minute / 5) one ping is free again, and only one.
    later = NOW + timedelta(seconds=12)
    turn = take_ping(state, later, per_minute=5)
    assert turn.allowed
    assert not take_ping(turn.refilled_at, later, per_minute=5).allowed


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    state = NOW + timedelta(minutes=1)
    almost = NOW + timedelta(seconds=11, milliseconds=100)

    refused = take_ping(state, almost, per_minute=5)

    assert (refused.allowed, refused.retry_after) == (False, 1)
    assert take_ping(state, NOW + timedelta(seconds=1), per_minute=7).retry_after == 8


def test_an_idle_minute_gives_a_whole_burst_again() -> None:
    stale = NOW - timedelta(hours=1)

    turn = take_ping(stale, NOW, per_minute=3)

    assert turn.refilled_at == NOW + timedelta(seconds=20)


async def _ping(admin: Caller, webhook_id: str) -> httpx.Response:
    return await admin.post(f"/v1/webhooks/{webhook_id}/ping")


async def test_the_sixth_ping_in_a_minute_is_429_with_retry_after(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin)
    before = (await webhook(admin, created["id"]))["updated_at"]
    for _ in range(5):
        ok(await _ping(admin, created["id"]), 202)

    refused = await _ping(admin, created["id"])

    problem = assert_problem(refused, 429, "ping_rate_limited")
    assert created["id"] in problem["detail"]
    # A minute / 5, less the moments the five pings took.
    assert 1 <= int(refused.headers["Retry-After"]) <= 12
    assert len(await delivery_rows(connection, endpoint_id=created["id"])) == 5
    assert len(await event_rows(connection, tenant)) == 5
    # Pinging is not a change of the endpoint.
    assert (await webhook(admin, created["id"]))["updated_at"] == before


async def test_the_limit_is_per_endpoint_and_per_tenant(admin: Caller, other_admin: Caller) -> None:
    busy = await subscribe(admin)
    quiet = await subscribe(admin)
    theirs = await subscribe(other_admin)
    for _ in range(5):
        ok(await _ping(admin, busy["id"]), 202)
    assert_problem(await _ping(admin, busy["id"]), 429, "ping_rate_limited")

    ok(await _ping(admin, quiet["id"]), 202)
    ok(await _ping(other_admin, theirs["id"]), 202)


async def test_pings_are_allowed_again_once_the_minute_has_passed(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    for _ in range(5):
        ok(await _ping(admin, created["id"]), 202)
    assert_problem(await _ping(admin, created["id"]), 429, "ping_rate_limited")
    # As if the minute went by: the limit's state is all there is to it.
    await connection.execute(
        text(
            "UPDATE webhook_endpoints SET pings_refilled_at = now() - interval '1 second' "
            "WHERE id = :id"
        ),
        {"id": created["id"]},
    )

    for _ in range(5):
        ok(await _ping(admin, created["id"]), 202)
    assert_problem(await _ping(admin, created["id"]), 429, "ping_rate_limited")


async def test_the_limit_follows_the_setting(
    app: FastAPI, settings: Settings, admin: Caller
) -> None:
    app.state.settings = settings.model_copy(update={"webhook_pings_per_minute": 2})
    created = await subscribe(admin)
    ok(await _ping(admin, created["id"]), 202)
    ok(await _ping(admin, created["id"]), 202)

    refused = await _ping(admin, created["id"])

    assert_problem(refused, 429, "ping_rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


async def test_a_refused_or_foreign_ping_does_not_spend_the_limit(
    admin: Caller, other_admin: Caller, member: Caller
) -> None:
    created = await subscribe(admin)
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    for _ in range(6):
        assert_problem(await _ping(admin, created["id"]), 409, "webhook_disabled")
        assert_problem(await _ping(other_admin, created["id"]), 404, "not_found")
        assert_problem(await _ping(member, created["id"]), 403, "forbidden")
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": True}))

    for _ in range(5):
        ok(await _ping(admin, created["id"]), 202)


def test_the_document_names_the_429_and_its_retry_after(app: FastAPI) -> None:
    responses = app.openapi()["paths"]["/v1/webhooks/{webhook_id}/ping"]["post"]["responses"]

    assert "ping_rate_limited" in responses["429"]["description"]
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
