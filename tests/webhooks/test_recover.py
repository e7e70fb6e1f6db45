"""Recovery: a webhook's failed and missed deliveries of the last 31 days queued again."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_errors_at, assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    answered,
    close_to,
    deliveries,
    delivery_rows,
    endpoint_row,
    event_rows,
    execute,
    invite,
    respond,
    subscribe,
)


def since(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).isoformat()


async def recover(admin: Caller, webhook_id: str, ago: timedelta) -> httpx.Response:
    """Ask the webhook to recover what it missed since `ago` before now."""
    return await admin.post(f"/v1/webhooks/{webhook_id}/recover", json={"since": since(ago)})


async def backdate_event(connection: AsyncConnection, event_id: uuid.UUID, ago: timedelta) -> None:
    """Move an event's creation to `ago` before now (the transaction's start)."""
    await execute(
        connection,
        "UPDATE events SET created_at = now() - CAST(:ago AS interval) WHERE id = :id",
        ago=ago,
        id=event_id,
    )


@pytest.mark.parametrize(
    "when",
    [timedelta(minutes=-5), timedelta(days=-1), timedelta(days=32), timedelta(days=365)],
    ids=["in five minutes", "tomorrow", "32 days ago", "a year ago"],
)
async def test_recover_window_is_the_last_31_days(
    connection: AsyncConnection, admin: Caller, when: timedelta
) -> None:
    created = await subscribe(admin)
    before = await endpoint_row(connection, created["id"])

    response = await recover(admin, created["id"], when)

    problem = assert_problem(response, 422, "invalid_recovery_window")
    assert_errors_at(problem, "body", "since")
    assert await endpoint_row(connection, created["id"]) == before


@pytest.mark.parametrize(
    "body",
    [{}, {"since": None}, {"since": "2026-11-20T00:00:00"}, {"since": "yesterday"}, None],
    ids=["no since", "null", "naive", "not a time", "no body"],
)
async def test_recover_needs_an_aware_since(admin: Caller, body: Any) -> None:
    created = await subscribe(admin)

    response = await admin.post(f"/v1/webhooks/{created['id']}/recover", json=body)

    assert_invalid(response, "body")


async def test_recover_nothing_to_do(admin: Caller) -> None:
    created = await subscribe(admin)

    response = await recover(admin, created["id"], timedelta(days=30))

    assert ok(response, 202) == {"recovered": 0}


async def test_recover_requeues_failed_deliveries(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    await answered(admin, "accepted")
    (row,) = await delivery_rows(connection, endpoint_id=created["id"])
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8, "
        "next_attempt_at = now() - interval '1 day', last_status_code = 500, "
        "last_error = 'HTTP 500' WHERE id = :id",
        id=row.id,
    )

    response = await recover(admin, created["id"], timedelta(hours=1))

    assert ok(response, 202)["recovered"] >= 1
    (requeued,) = await delivery_rows(connection, endpoint_id=created["id"])
    assert requeued.id == row.id
    assert requeued.status == "pending"
    assert requeued.attempts == 0
    assert close_to(requeued.next_attempt_at, datetime.now(UTC))
    (logged,) = await deliveries(admin, created["id"])
    assert (logged["status"], logged["attempts"]) == ("pending", 0)


async def test_recover_leaves_failures_older_than_since(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin)
    await answered(admin, "accepted")
    (row,) = await delivery_rows(connection, endpoint_id=created["id"])
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8 WHERE id = :id",
        id=row.id,
    )
    await backdate_event(connection, row.event_id, timedelta(days=3))

    response = await recover(admin, created["id"], timedelta(days=1))

    assert ok(response, 202) == {"recovered": 0}
    (kept,) = await delivery_rows(connection, endpoint_id=created["id"])
    assert (kept.status, kept.attempts) == ("failed", 8)


async def test_recover_leaves_other_endpoints_alone(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    recovered = await subscribe(admin)
    other = await subscribe(admin)
    await answered(admin, "accepted")
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8 WHERE tenant_id = :tenant",
        tenant=tenant,
    )

    response = await recover(admin, recovered["id"], timedelta(hours=1))

    assert ok(response, 202) == {"recovered": 1}
    (mine,) = await delivery_rows(connection, endpoint_id=recovered["id"])
    (theirs,) = await delivery_rows(connection, endpoint_id=other["id"])
    assert (mine.status, mine.attempts) == ("pending", 0)
    assert (theirs.status, theirs.attempts) == ("failed", 8)


async def test_recover_queues_what_a_disabled_endpoint_missed(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    invitee = await admin.new_member(name="Ivan Invitee")
    _, participant_id = await invite(organizer, invitee)
    await respond(invitee, participant_id, "accepted")  # before the endpoint existed
    created = await subscribe(admin, ["invitation.accepted", "invitation.declined"])
    # One transaction holds the whole test, so now() is one instant: spread the times out.
    (early,) = [e for e in await event_rows(connection, tenant) if e.type == "invitation.accepted"]
    await backdate_event(connection, early.id, timedelta(hours=3))
    await execute(
        connection,
        "UPDATE webhook_endpoints SET created_at = now() - interval '2 hours' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    await respond(invitee, participant_id, "declined")  # while disabled
    await respond(invitee, participant_id, "tentative")  # a type it does not want
    assert await delivery_rows(connection, endpoint_id=created["id"]) == []

    response = await recover(admin, created["id"], timedelta(days=1))

    assert ok(response, 202) == {"recovered": 1}
    (missed,) = await delivery_rows(connection, endpoint_id=created["id"])
    (declined,) = [e for e in await event_rows(connection, tenant) if e.type.endswith("declined")]
    assert missed.event_id == declined.id
    assert missed.status == "pending"
    assert (missed.follow_up_id, missed.seq) == (declined.follow_up_id, declined.seq)
    (logged,) = await deliveries(admin, created["id"])
    assert logged["event_type"] == "invitation.declined"
    # Recovering again finds nothing new.
    again = await recover(admin, created["id"], timedelta(days=1))
    assert ok(again, 202) == {"recovered": 0}


async def test_recover_since_bounds_what_was_missed(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin, ["invitation.accepted", "invitation.declined"])
    await execute(
        connection,
        "UPDATE webhook_endpoints SET created_at = now() - interval '10 days' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    _, participant_id, invitee = await answered(admin, "accepted")
    await respond(invitee, participant_id, "declined")
    (accepted,) = [e for e in await event_rows(connection, tenant) if e.type.endswith("accepted")]
    await backdate_event(connection, accepted.id, timedelta(days=5))

    response = await recover(admin, created["id"], timedelta(days=2))

    assert ok(response, 202) == {"recovered": 1}
    assert [d["event_type"] for d in await deliveries(admin, created["id"])] == [
        "invitation.declined"
    ]


async def test_recover_unknown_webhook_is_404(admin: Caller) -> None:
    response = await recover(admin, str(uuid.uuid4()), timedelta(hours=1))

    assert_problem(response, 404, "not_found")
