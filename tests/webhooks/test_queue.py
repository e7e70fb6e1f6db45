"""The delivery queue's statements: records matched by name; what close, claim and reap write.

The pure record builders are checked field by field; the statements run on the test database
inside the test's rolled-back transaction, with a distinct value in every field, so a value
landing in the wrong column fails.
"""

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.base import new_id, utc_now
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.states import PING, AttemptOutcome, DeliveryStatus, WebhookDisabledReason
from app.webhooks import queue
from app.webhooks.queue import Claimed, Outcome, attempt_records, endpoint_records

ENDPOINTS = WebhookEndpoint.__table__
DELIVERIES = WebhookDelivery.__table__
ATTEMPTS = WebhookAttempt.__table__
EVENTS = Event.__table__

DISABLE_AFTER = timedelta(days=5).total_seconds()
# A recent start with every microsecond digit set, so a rounded or shifted instant shows.
T0 = utc_now().replace(microsecond=123456) - timedelta(minutes=2)


def _claimed(
    endpoint_id: uuid.UUID | None = None, attempt: int = 1, tenant_id: uuid.UUID | None = None
) -> Claimed:
    return Claimed(
        id=uuid.uuid4(),
        tenant_id=tenant_id or uuid.uuid4(),
        token=uuid.uuid4(),
        attempt=attempt,
        endpoint_id=endpoint_id or uuid.uuid4(),
        event_id=uuid.uuid4(),
        url="https://hooks.example.com/convene",
        sealed_secrets=("whsec_test",),
        body=b"{}",
        queued_seconds=0.5,
    )


def _outcome(
    claimed: Claimed,
    started_at: datetime = T0,
    outcome: AttemptOutcome = AttemptOutcome.SUCCESS,
    status: DeliveryStatus = DeliveryStatus.SUCCEEDED,
    **fields: Any,
) -> Outcome:
    return Outcome(
        claimed=claimed,
        started_at=started_at,
        duration_ms=fields.pop("duration_ms", 12),
        outcome=outcome,
        status=status,
        endpoint_gone=outcome == AttemptOutcome.GONE,
        **fields,
    )


# The record builders ---------------------------------------------------------------------


def test_an_attempt_record_names_every_field() -> None:
    claimed = _claimed(attempt=3)
    outcome = _outcome(
        claimed,
        outcome=AttemptOutcome.HTTP_ERROR,
        status=DeliveryStatus.PENDING,
        delay=120.5,
        duration_ms=1234,
        status_code=503,
        error="HTTP 503",
        response_body="busy, come back",
    )

    assert attempt_records([outcome]) == [
        {
            "tenant_id": claimed.tenant_id,
            "delivery_id": claimed.id,
            "claim_token": claimed.token,
            "status": "pending",
            "delay_seconds": 120.5,
            "attempt": 3,
            "started_at": T0,
            "duration_ms": 1234,
            "status_code": 503,
            "outcome": "http_error",
            "error": "HTTP 503",
            "response_body": "busy, come back",
        }
    ]


def test_attempt_records_keep_the_batch_order() -> None:
    outcomes = [_outcome(_claimed(attempt=n)) for n in (1, 2, 3)]

    records = attempt_records(outcomes)

    assert [r["delivery_id"] for r in records] == [o.claimed.id for o in outcomes]
    assert [r["attempt"] for r in records] == [1, 2, 3]


def test_per_endpoint_the_last_attempt_decides_and_any_410_disables() -> None:
    recovered, failing, gone_first, gone_last = (uuid.uuid4() for _ in range(4))
    tenant = uuid.uuid4()
    later = T0 + timedelta(seconds=1)
    failed = {"outcome": AttemptOutcome.HTTP_ERROR, "status": DeliveryStatus.PENDING}
    gone = {"outcome": AttemptOutcome.GONE, "status": DeliveryStatus.FAILED}
    # Listed out of time order: what counts is when each attempt started.
    outcomes = [
        _outcome(_claimed(recovered, tenant_id=tenant), started_at=later),
        _outcome(_claimed(recovered, tenant_id=tenant), started_at=T0, **failed),
        _outcome(_claimed(failing, tenant_id=tenant), started_at=T0),
        _outcome(_claimed(failing, tenant_id=tenant), started_at=later, **failed),
        _outcome(_claimed(gone_first, tenant_id=tenant), started_at=T0, **gone),
        _outcome(_claimed(gone_first, tenant_id=tenant), started_at=later),
        _outcome(_claimed(gone_last, tenant_id=tenant), started_at=later, **gone),
    ]

    records = {r["endpoint_id"]: r for r in endpoint_records(outcomes)}

    def record(endpoint_id: uuid.UUID, ok: bool, gone: bool) -> dict[str, Any]:
        return {
            "tenant_id": tenant,
            "endpoint_id": endpoint_id,
            "ok": ok,
            "started_at": later,
            "gone": gone,
        }

    assert records == {
        recovered: record(recovered, ok=True, gone=False),
        failing: record(failing, ok=False, gone=False),
        gone_first: record(gone_first, ok=True, gone=True),
        gone_last: record(gone_last, ok=False, gone=True),
    }


def test_an_empty_batch_has_no_records() -> None:
    assert attempt_records([]) == []
    assert endpoint_records([]) == []


# The statements, on the test database ----------------------------------------------------


async def _endpoint(
    connection: AsyncConnection, tenant_id: uuid.UUID, failing_since: datetime | None = None
) -> uuid.UUID:
    endpoint_id = new_id()
    await connection.execute(
        insert(ENDPOINTS).values(
            id=endpoint_id,
            tenant_id=tenant_id,
            url=f"https://hooks.example.com/{endpoint_id}",
            event_types=["invitation.accepted"],
            enabled=True,
            secret="whsec_test",
            failing_since=failing_since,
        )
    )
    return endpoint_id


async def _delivery(
    connection: AsyncConnection,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus = DeliveryStatus.DELIVERING,
    attempts: int = 1,
    **columns: Any,
) -> Claimed:
    """A delivery of a fresh event to the endpoint, leased to a new token unless told otherwise."""
    tenant_id = await connection.scalar(
        select(ENDPOINTS.c.tenant_id).where(ENDPOINTS.c.id == endpoint_id)
    )
    event_id = new_id()
    await connection.execute(
        insert(EVENTS).values(id=event_id, tenant_id=tenant_id, type=PING, data={})
    )
    token = uuid.uuid4()
    values: dict[str, Any] = {"status": status, "attempts": attempts}
    if status == DeliveryStatus.DELIVERING:
        values.update(claim_token=token, lease_until=utc_now() + timedelta(minutes=1))
    delivery_id = await connection.scalar(
        insert(DELIVERIES)
        .values(
            tenant_id=tenant_id, endpoint_id=endpoint_id, event_id=event_id, **values, **columns
        )
        .returning(DELIVERIES.c.id)
    )
    assert delivery_id is not None
    return replace(
        _claimed(endpoint_id, attempts, tenant_id),
        id=delivery_id,
        token=token,
        event_id=event_id,
    )


async def _row(connection: AsyncConnection, table: Any, **where: Any) -> Row[Any]:
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    return (await connection.execute(query)).one()


async def _clock(connection: AsyncConnection) -> datetime:
    now = await connection.scalar(text("SELECT clock_timestamp()"))
    assert isinstance(now, datetime)
    return now


async def test_close_writes_each_field_of_a_retry_to_its_column(
    connection: AsyncConnection,
) -> None:
    endpoint_id = await _endpoint(connection, uuid.uuid4())
    claimed = await _delivery(connection, endpoint_id, attempts=3)
    outcome = _outcome(
        claimed,
        outcome=AttemptOutcome.HTTP_ERROR,
        status=DeliveryStatus.PENDING,
        delay=120.5,
        duration_ms=1234,
        status_code=503,
        error="HTTP 503",
        response_body="busy, kom tilbage senere — 稍后再试",
    )
    before = await _clock(connection)

    disabled = await queue.close(connection, [outcome], DISABLE_AFTER)

    after = await _clock(connection)
    assert disabled == []
    delivery = await _row(connection, DELIVERIES, id=claimed.id)
    assert delivery.status == DeliveryStatus.PENDING
    retry = timedelta(seconds=120.5)
    assert before + retry <= delivery.next_attempt_at <= after + retry
    assert (delivery.lease_until, delivery.claim_token, delivery.delivered_at) == (None, None, None)
    assert (delivery.last_status_code, delivery.last_error) == (503, "HTTP 503")
    assert delivery.attempts == 3
    attempt = await _row(connection, ATTEMPTS, delivery_id=claimed.id)
    assert attempt.attempt == 3
    assert attempt.started_at == T0
    assert attempt.duration_ms == 1234
    assert attempt.status_code == 503
    assert attempt.outcome == AttemptOutcome.HTTP_ERROR
    assert attempt.error == "HTTP 503"
    assert attempt.response_body == "busy, kom tilbage senere — 稍后再试"
    endpoint = await _row(connection, ENDPOINTS, id=endpoint_id)
    assert endpoint.failing_since == T0
    assert (endpoint.enabled, endpoint.disabled_reason) == (True, None)


async def test_close_records_a_success_and_ends_the_failing_streak(
    connection: AsyncConnection,
) -> None:
    streak_began = utc_now() - timedelta(days=1)
    endpoint_id = await _endpoint(connection, uuid.uuid4(), failing_since=streak_began)
    due_at = utc_now() - timedelta(hours=1)
    claimed = await _delivery(connection, endpoint_id, attempts=2, next_attempt_at=due_at)
    before = await _clock(connection)

    disabled = await queue.close(
        connection, [_outcome(claimed, duration_ms=87, status_code=204)], DISABLE_AFTER
    )

    after = await _clock(connection)
    assert disabled == []
    delivery = await _row(connection, DELIVERIES, id=claimed.id)
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert before <= delivery.delivered_at <= after
    assert delivery.next_attempt_at == due_at
    assert (delivery.last_status_code, delivery.last_error) == (204, None)
    attempt = await _row(connection, ATTEMPTS, delivery_id=claimed.id)
    assert (attempt.attempt, attempt.duration_ms, attempt.status_code) == (2, 87, 204)
    assert (attempt.outcome, attempt.error, attempt.response_body) == ("success", None, None)
    endpoint = await _row(connection, ENDPOINTS, id=endpoint_id)
    assert (endpoint.failing_since, endpoint.enabled) == (None, True)


async def test_close_disables_an_endpoint_that_answered_410(
    connection: AsyncConnection,
) -> None:
    endpoint_id = await _endpoint(connection, uuid.uuid4())
    claimed = await _delivery(connection, endpoint_id)
    gone = _outcome(
        claimed,
        outcome=AttemptOutcome.GONE,
        status=DeliveryStatus.FAILED,
        status_code=410,
        error="HTTP 410",
    )

    disabled = await queue.close(connection, [gone], DISABLE_AFTER)

    assert disabled == [endpoint_id]
    delivery = await _row(connection, DELIVERIES, id=claimed.id)
    assert (delivery.status, delivery.delivered_at) == (DeliveryStatus.FAILED, None)
    endpoint = await _row(connection, ENDPOINTS, id=endpoint_id)
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, WebhookDisabledReason.GONE)
    assert endpoint.failing_since == T0


async def test_close_disables_an_endpoint_failing_longer_than_the_limit(
    connection: AsyncConnection,
) -> None:
    tenant_id = uuid.uuid4()
    # Failing since just past the limit, and just short of it: only the first is disabled.
    too_long = utc_now() - timedelta(seconds=DISABLE_AFTER + 60)
    not_yet = utc_now() - timedelta(seconds=DISABLE_AFTER - 60)
    stale = await _endpoint(connection, tenant_id, failing_since=too_long)
    young = await _endpoint(connection, tenant_id, failing_since=not_yet)
    timeout = {
        "outcome": AttemptOutcome.TIMEOUT,
        "status": DeliveryStatus.PENDING,
        "delay": 30.0,
        "error": "no complete answer in time",
    }
    outcomes = [
        _outcome(await _delivery(connection, stale), **timeout),
        _outcome(await _delivery(connection, young), **timeout),
    ]

    disabled = await queue.close(connection, outcomes, DISABLE_AFTER)

    assert disabled == [stale]
    stale_row = await _row(connection, ENDPOINTS, id=stale)
    assert (stale_row.enabled, stale_row.disabled_reason) == (
        False,
        WebhookDisabledReason.FAILING,
    )
    assert stale_row.failing_since == too_long
    young_row = await _row(connection, ENDPOINTS, id=young)
    assert (young_row.enabled, young_row.disabled_reason) == (True, None)
    assert young_row.failing_since == not_yet


async def test_close_leaves_a_delivery_leased_again_to_its_new_owner(
    connection: AsyncConnection,
) -> None:
    endpoint_id = await _endpoint(connection, uuid.uuid4())
    claimed = await _delivery(connection, endpoint_id)
    stale = replace(claimed, token=uuid.uuid4())

    await queue.close(connection, [_outcome(stale, status_code=200)], DISABLE_AFTER)

    delivery = await _row(connection, DELIVERIES, id=claimed.id)
    assert (delivery.status, delivery.claim_token) == (DeliveryStatus.DELIVERING, claimed.token)
    # The attempt happened all the same, so it is logged.
    attempt = await _row(connection, ATTEMPTS, delivery_id=claimed.id)
    assert attempt.status_code == 200


async def test_close_skips_the_log_of_a_deleted_delivery(connection: AsyncConnection) -> None:
    endpoint_id = await _endpoint(connection, uuid.uuid4())
    vanished = _claimed(endpoint_id)

    assert await queue.close(connection, [_outcome(vanished)], DISABLE_AFTER) == []

    logged = await connection.scalar(
        select(ATTEMPTS.c.id).where(ATTEMPTS.c.delivery_id == vanished.id)
    )
    assert logged is None


async def test_claim_leases_due_deliveries_within_the_per_endpoint_bound(
    connection: AsyncConnection,
) -> None:
    tenant_id = uuid.uuid4()
    endpoints = [await _endpoint(connection, tenant_id) for _ in range(2)]
    due = {
        (await _delivery(connection, e, DeliveryStatus.PENDING, attempts=1)).id: e
        for e in endpoints
        for _ in range(3)
    }
    before = await _clock(connection)

    claimed = await queue.claim(
        connection, limit=3, lease_seconds=45.0, per_endpoint=2, per_tenant=100
    )

    after = await _clock(connection)
    assert len(claimed) == 3
    assert {c.id for c in claimed} <= set(due)
    assert all(sum(due[c.id] == e for c in claimed) <= 2 for e in endpoints)
    [token] = {c.token for c in claimed}
    for c in claimed:
        assert (c.tenant_id, c.endpoint_id) == (tenant_id, due[c.id])
        assert c.attempt == 2
        row = await _row(connection, DELIVERIES, id=c.id)
        assert (row.status, row.attempts, row.claim_token) == ("delivering", 2, token)
        lease = timedelta(seconds=45)
        assert before + lease <= row.lease_until <= after + lease


async def _claim(
    connection: AsyncConnection, limit: int = 100, per_endpoint: int = 16, per_tenant: int = 100
) -> list[Claimed]:
    return await queue.claim(
        connection, limit, lease_seconds=60.0, per_endpoint=per_endpoint, per_tenant=per_tenant
    )


def _by_tenant(claimed: list[Claimed]) -> dict[uuid.UUID, int]:
    counts: dict[uuid.UUID, int] = {}
    for c in claimed:
        counts[c.tenant_id] = counts.get(c.tenant_id, 0) + 1
    return counts


async def test_a_claim_batch_goes_round_robin_across_tenants(
    connection: AsyncConnection,
) -> None:
    """A tenant with the oldest backlog gets one turn in each round, like everyone else."""
    backlog, small, smaller = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # The backlog is due first, on two endpoints, so oldest-first would take only its rows.
    for endpoint in [await _endpoint(connection, backlog) for _ in range(2)]:
        for _ in range(10):
            await _delivery(connection, endpoint, DeliveryStatus.PENDING, attempts=0)
    small_endpoint = await _endpoint(connection, small)
    small_rows = [
        await _delivery(connection, small_endpoint, DeliveryStatus.PENDING, attempts=0)
        for _ in range(3)
    ]
    smaller_endpoint = await _endpoint(connection, smaller)
    smaller_row = await _delivery(connection, smaller_endpoint, DeliveryStatus.PENDING, attempts=0)

    first = await _claim(connection, limit=5)

    # Turn one: each tenant's oldest; turn two: the two with more than one.
    assert _by_tenant(first) == {backlog: 2, small: 2, smaller: 1}
    assert smaller_row.id in {c.id for c in first}
    assert {c.id for c in first if c.tenant_id == small} == {r.id for r in small_rows[:2]}

    second = await _claim(connection, limit=3)

    assert _by_tenant(second) == {backlog: 2, small: 1}


async def test_a_tenant_gets_at_most_its_cap_counting_what_is_in_flight(
    connection: AsyncConnection,
) -> None:
    greedy, other = uuid.uuid4(), uuid.uuid4()
    endpoints = [await _endpoint(connection, greedy) for _ in range(3)]
    # Three in flight already (leased by some dispatcher), one on each endpoint...
    for endpoint in endpoints:
        await _delivery(connection, endpoint, DeliveryStatus.DELIVERING)
    # ... and plenty due behind them.
    for endpoint in endpoints:
        for _ in range(5):
            await _delivery(connection, endpoint, DeliveryStatus.PENDING, attempts=0)
    other_endpoint = await _endpoint(connection, other)
    for _ in range(4):
        await _delivery(connection, other_endpoint, DeliveryStatus.PENDING, attempts=0)

    claimed = await _claim(connection, per_tenant=5)

    assert _by_tenant(claimed) == {greedy: 2, other: 4}
    # At the cap now: the next claim leaves the tenant's backlog where it is.
    assert await _claim(connection, per_tenant=5) == []
    leased = await connection.scalar(
        select(func.count())
        .select_from(DELIVERIES)
        .where(DELIVERIES.c.tenant_id == greedy, DELIVERIES.c.status == "delivering")
    )
    assert leased == 5


async def test_the_tenant_cap_counts_leases_of_a_disabled_endpoint(
    connection: AsyncConnection,
) -> None:
    """What is in flight holds a slot until it is closed, whatever became of its endpoint."""
    tenant_id = uuid.uuid4()
    switched_off, live = [await _endpoint(connection, tenant_id) for _ in range(2)]
    for _ in range(3):
        await _delivery(connection, switched_off, DeliveryStatus.DELIVERING)
    await connection.execute(
        ENDPOINTS.update().where(ENDPOINTS.c.id == switched_off).values(enabled=False)
    )
    for _ in range(5):
        await _delivery(connection, live, DeliveryStatus.PENDING, attempts=0)

    claimed = await _claim(connection, per_tenant=4)

    assert [c.endpoint_id for c in claimed] == [live]


async def test_the_endpoint_bound_still_holds_under_a_larger_tenant_cap(
    connection: AsyncConnection,
) -> None:
    tenant_id = uuid.uuid4()
    endpoints = [await _endpoint(connection, tenant_id) for _ in range(2)]
    await _delivery(connection, endpoints[0], DeliveryStatus.DELIVERING)
    for endpoint in endpoints:
        for _ in range(6):
            await _delivery(connection, endpoint, DeliveryStatus.PENDING, attempts=0)

    claimed = await _claim(connection, per_endpoint=3, per_tenant=100)

    assert sorted(c.endpoint_id == endpoints[0] for c in claimed) == [False] * 3 + [True] * 2


async def test_reap_takes_back_only_expired_leases(connection: AsyncConnection) -> None:
    endpoint_id = await _endpoint(connection, uuid.uuid4())
    expired = await _delivery(connection, endpoint_id)
    held = await _delivery(connection, endpoint_id)
    await connection.execute(
        DELIVERIES.update()
        .where(DELIVERIES.c.id == expired.id)
        .values(lease_until=utc_now() - timedelta(seconds=1))
    )

    assert await queue.reap(connection) == 1

    row = await _row(connection, DELIVERIES, id=expired.id)
    assert (row.status, row.lease_until, row.claim_token) == ("pending", None, None)
    kept = await _row(connection, DELIVERIES, id=held.id)
    assert (kept.status, kept.claim_token) == ("delivering", held.token)
