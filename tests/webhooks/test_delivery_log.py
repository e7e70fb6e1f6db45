"""A webhook's delivery log: what is queued for whom, attempts and outcomes, filters, pages."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    ATTEMPTS,
    DELIVERY_FIELDS,
    Body,
    answered,
    at,
    deliveries,
    delivery_rows,
    event_rows,
    execute,
    subscribe,
)


async def test_an_answer_is_queued_for_subscribers_only(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, other_admin: Caller
) -> None:
    subscribed = await subscribe(admin, ["invitation.accepted"])
    unsubscribed = await subscribe(admin, ["invitation.declined", "follow_up.cancelled"])
    disabled = await subscribe(admin, ["invitation.accepted"])
    ok(await admin.patch(f"/v1/webhooks/{disabled['id']}", json={"enabled": False}))
    foreign = await subscribe(other_admin, ["invitation.accepted"])

    follow_up_id, participant_id, _ = await answered(admin, "accepted")

    (event,) = [e for e in await event_rows(connection, tenant) if e.type.startswith("invitation")]
    (delivery,) = await deliveries(admin, subscribed["id"])
    assert set(delivery) == DELIVERY_FIELDS
    assert delivery["event_id"] == str(event.id)
    assert delivery["event_type"] == "invitation.accepted"
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 0
    assert delivery["next_attempt_at"] is not None
    assert delivery["delivered_at"] is None
    assert delivery["last_status_code"] is None
    assert delivery["last_error"] is None
    assert delivery["attempt_log"] == []
    at(delivery["created_at"])
    (row,) = await delivery_rows(connection, endpoint_id=subscribed["id"])
    assert row.follow_up_id == uuid.UUID(follow_up_id)
    assert row.seq == event.seq
    assert event.data["participant_id"] == participant_id

    assert await deliveries(admin, unsubscribed["id"]) == []
    assert await deliveries(admin, disabled["id"]) == []
    assert await deliveries(other_admin, foreign["id"]) == []
    assert await delivery_rows(connection, endpoint_id=foreign["id"]) == []


async def test_each_subscribed_change_is_queued(admin: Caller) -> None:
    created = await subscribe(admin, ["follow_up.created", "invitation.accepted"])

    await answered(admin, "accepted")

    logged = await deliveries(admin, created["id"])
    assert [d["event_type"] for d in logged] == ["invitation.accepted", "follow_up.created"]


async def test_delivery_log_shows_attempts_and_outcomes(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    event_id = ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
    (row,) = await delivery_rows(connection, event_id=event_id)
    started = datetime.now(UTC) - timedelta(minutes=5)
    await connection.execute(
        insert(ATTEMPTS),
        [
            {
                "tenant_id": row.tenant_id,
                "delivery_id": row.id,
                "attempt": 2,
                "started_at": started + timedelta(minutes=1),
                "duration_ms": 5000,
                "status_code": None,
                "outcome": "timeout",
                "error": "no complete answer in time",
                "response_body": None,
            },
            {
                "tenant_id": row.tenant_id,
                "delivery_id": row.id,
                "attempt": 1,
                "started_at": started,
                "duration_ms": 31,
                "status_code": 503,
                "outcome": "http_error",
                "error": "HTTP 503",
                "response_body": "down for maintenance",
            },
        ],
    )
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 2, "
        "last_status_code = 503, last_error = 'no complete answer in time' WHERE id = :id",
        id=row.id,
    )

    (delivery,) = await deliveries(admin, created["id"])

    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 2
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 503
    assert delivery["last_error"] == "no complete answer in time"
    first, second = delivery["attempt_log"]
    assert first == {
        "attempt": 1,
        "started_at": first["started_at"],
        "duration_ms": 31,
        "status_code": 503,
        "outcome": "http_error",
        "error": "HTTP 503",
        "response_body": "down for maintenance",
    }
    assert at(first["started_at"]) == started
    assert (second["attempt"], second["outcome"], second["status_code"]) == (2, "timeout", None)


async def test_delivery_log_status_filter(connection: AsyncConnection, admin: Caller) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(4)
    ]
    for event_id, status in zip(pings, ["succeeded", "failed", "delivering"], strict=False):
        await execute(
            connection,
            "UPDATE webhook_deliveries SET status = :status WHERE event_id = :event_id",
            status=status,
            event_id=uuid.UUID(event_id),
        )
    await execute(
        connection,
        "UPDATE webhook_deliveries SET delivered_at = now() WHERE event_id = :event_id",
        event_id=uuid.UUID(pings[0]),
    )

    by_status = {
        status: [d["event_id"] for d in await deliveries(admin, created["id"], status=status)]
        for status in ("pending", "delivering", "succeeded", "failed")
    }

    assert by_status == {
        "pending": [pings[3]],
        "delivering": [pings[2]],
        "succeeded": [pings[0]],
        "failed": [pings[1]],
    }
    (succeeded,) = await deliveries(admin, created["id"], status="succeeded")
    assert succeeded["delivered_at"] is not None
    assert succeeded["next_attempt_at"] is None
    assert len(await deliveries(admin, created["id"])) == 4
    assert_invalid(
        await admin.get(f"/v1/webhooks/{created['id']}/deliveries", params={"status": "lost"}),
        "query",
        "status",
    )


async def test_delivery_log_pages_newest_first(admin: Caller) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(5)
    ]
    path = f"/v1/webhooks/{created['id']}/deliveries"

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: a cursor that never ends must fail, not hang
        params: Body = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await admin.get(path, params=params))
        seen.extend(d["event_id"] for d in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(cursor) == 32
        assert len(page["items"]) == 2
    else:
        pytest.fail("the pages never ended")

    assert seen == pings[::-1]
    assert_invalid(await admin.get(path, params={"cursor": "A" * 22}), "query", "cursor")
    assert_invalid(await admin.get(path, params={"limit": 0}), "query", "limit")


async def test_delivery_log_pages_with_status_filter(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(5)
    ]
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed' WHERE event_id = :event_id",
        event_id=uuid.UUID(pings[2]),
    )
    path = f"/v1/webhooks/{created['id']}/deliveries"

    first = ok(await admin.get(path, params={"limit": 2, "status": "pending"}))
    second = ok(
        await admin.get(
            path, params={"limit": 2, "status": "pending", "cursor": first["next_cursor"]}
        )
    )

    assert [d["event_id"] for d in first["items"]] == [pings[4], pings[3]]
    assert [d["event_id"] for d in second["items"]] == [pings[1], pings[0]]
    assert second["next_cursor"] is None
