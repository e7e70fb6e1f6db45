"""The delivery queue's SQL: claim under a lease, take back expired leases, record attempts.

Each runs as one short transaction; none is held open across HTTP.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models.states import AttemptOutcome, DeliveryStatus
from app.webhooks.payloads import jsonable

# Leases up to :limit due deliveries of enabled endpoints to :claim_token, fairly across tenants.
# What is in flight (leased by any dispatcher) is counted once, per endpoint and per tenant: an
# endpoint takes at most the free share of :per_endpoint, a tenant of :per_tenant, so one
# tenant's hanging endpoints hold at most :per_tenant slots and cannot starve the others. The
# batch goes round-robin: every tenant's oldest due delivery, then every tenant's second, and
# so on (oldest first within a turn). Both bounds are read at the statement's start, so two
# dispatchers claiming at the same instant may each take a tenant's free share once. A delivery
# waits while an earlier event of the same follow-up to the same endpoint is in flight or not
# yet tried, so a healthy endpoint receives each follow-up's events in seq order; one in
# back-off holds nothing up.
CLAIM_DELIVERIES = text("""
WITH leased AS MATERIALIZED (
    SELECT f.tenant_id, f.endpoint_id, count(*)::int AS n
    FROM webhook_deliveries f
    WHERE f.status = 'delivering'
    GROUP BY f.tenant_id, f.endpoint_id
), tenants AS (
    SELECT l.tenant_id, sum(l.n)::int AS n FROM leased l GROUP BY l.tenant_id
), room AS (
    SELECT w.tenant_id, w.id,
        CAST(:per_tenant AS int) - coalesce(t.n, 0) AS tenant_room,
        least(
            CAST(:per_endpoint AS int) - coalesce(e.n, 0),
            CAST(:per_tenant AS int) - coalesce(t.n, 0)
        ) AS endpoint_room
    FROM webhook_endpoints w
    LEFT JOIN leased e ON e.tenant_id = w.tenant_id AND e.endpoint_id = w.id
    LEFT JOIN tenants t ON t.tenant_id = w.tenant_id
    WHERE w.enabled
), candidates AS (
    SELECT due.tenant_id, due.id, due.next_attempt_at, r.tenant_room,
        row_number() OVER (
            PARTITION BY due.tenant_id ORDER BY due.next_attempt_at, due.id
        ) AS turn
    FROM room r
    CROSS JOIN LATERAL (
        SELECT d.tenant_id, d.id, d.next_attempt_at
        FROM webhook_deliveries d
        WHERE d.endpoint_id = r.id
          AND d.status = 'pending'
          AND d.next_attempt_at <= clock_timestamp()
          AND NOT EXISTS (
              SELECT FROM webhook_deliveries p
              WHERE p.endpoint_id = d.endpoint_id
                AND p.follow_up_id = d.follow_up_id
                AND p.seq < d.seq
                AND (p.status = 'delivering' OR (p.status = 'pending' AND p.attempts = 0))
          )
        ORDER BY d.next_attempt_at
        LIMIT r.endpoint_room
    ) AS due
    WHERE r.endpoint_room > 0
), chosen AS (
    SELECT c.tenant_id, c.id FROM candidates c
    WHERE c.turn <= c.tenant_room
    ORDER BY c.turn, c.next_attempt_at
    LIMIT :limit
), locked AS (
    SELECT d.tenant_id, d.id FROM webhook_deliveries d
    WHERE (d.tenant_id, d.id) IN (SELECT tenant_id, id FROM chosen) AND d.status = 'pending'
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = 'delivering',
    attempts = d.attempts + 1,
    lease_until = clock_timestamp() + make_interval(secs => :lease_seconds),
    claim_token = :claim_token,
    last_attempt_at = clock_timestamp()
FROM locked, events e, webhook_endpoints w
WHERE d.tenant_id = locked.tenant_id AND d.id = locked.id
  AND e.tenant_id = d.tenant_id AND e.id = d.event_id
  AND w.tenant_id = d.tenant_id AND w.id = d.endpoint_id
RETURNING d.tenant_id, d.id, d.attempts, d.endpoint_id, d.event_id, w.url, w.secret,
    CASE WHEN w.previous_secret_expires_at > clock_timestamp() THEN w.previous_secret END
        AS previous_secret,
    jsonb_build_object(
        'type', e.type,
        'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'data', e.data
    )::text AS body,
    extract(epoch FROM clock_timestamp() - d.created_at)::float8 AS queued_seconds
""")

# Puts deliveries whose lease ran out (their worker died) back in the queue.
REAP_LEASES = text("""
UPDATE webhook_deliveries
SET status = 'pending', lease_until = NULL, claim_token = NULL
WHERE status = 'delivering' AND lease_until < clock_timestamp()
""")

# Closes a batch's deliveries, logs its attempts, updates each endpoint's failing streak.
# One statement: one round trip, atomic. A delivery closes only through the claim token that
# sent it, so one whose lease was taken back keeps its new owner's state; the attempt of a
# delivery deleted meanwhile is not logged. An endpoint is disabled on 410 Gone or after failing
# longer than :disable_after_seconds, and the statement returns those it disabled. The rows come
# as jsonb arrays of records, so each value is matched to its column by name, never by position.
# Each LIMIT only tells the planner how many records there are: it cannot see into the jsonb,
# guesses 100, and would then scan whole tables rather than look a batch's rows up by key.
CLOSE_ATTEMPTS = text("""
WITH r AS (
    SELECT * FROM jsonb_to_recordset(CAST(:attempts AS jsonb)) AS r(
        tenant_id uuid, delivery_id uuid, claim_token uuid, status text, delay_seconds float8,
        attempt int, started_at timestamptz, duration_ms int, status_code int,
        outcome text, error text, response_body text
    )
    LIMIT jsonb_array_length(CAST(:attempts AS jsonb))
), s AS (
    SELECT * FROM jsonb_to_recordset(CAST(:endpoints AS jsonb))
        AS s(tenant_id uuid, endpoint_id uuid, ok boolean, started_at timestamptz, gone boolean)
    LIMIT jsonb_array_length(CAST(:endpoints AS jsonb))
), closed AS (
    UPDATE webhook_deliveries d
    SET status = r.status,
        next_attempt_at = CASE WHEN r.status = 'pending'
            THEN clock_timestamp() + make_interval(secs => r.delay_seconds)
            ELSE d.next_attempt_at END,
        delivered_at = CASE WHEN r.status = 'succeeded' THEN clock_timestamp() END,
        lease_until = NULL,
        claim_token = NULL,
        last_status_code = r.status_code,
        last_error = r.error
    FROM r
    WHERE d.tenant_id = r.tenant_id AND d.id = r.delivery_id AND d.claim_token = r.claim_token
), logged AS (
    INSERT INTO webhook_attempts (
        tenant_id, delivery_id, attempt, started_at, duration_ms, status_code, outcome, error,
        response_body
    )
    SELECT r.tenant_id, r.delivery_id, r.attempt, r.started_at, r.duration_ms, r.status_code,
        r.outcome, r.error, r.response_body
    FROM r
    WHERE EXISTS (
        SELECT FROM webhook_deliveries d WHERE d.tenant_id = r.tenant_id AND d.id = r.delivery_id
    )
), streaks AS (
    SELECT s.tenant_id, s.endpoint_id, w.enabled AS was_enabled,
        CASE WHEN s.ok THEN NULL ELSE coalesce(w.failing_since, s.started_at) END
            AS failing_since,
        CASE WHEN s.gone THEN 'gone'
             WHEN NOT s.ok AND coalesce(w.failing_since, s.started_at)
                 < clock_timestamp() - make_interval(secs => :disable_after_seconds)
             THEN 'failing' END AS disable
    FROM s JOIN webhook_endpoints w ON w.tenant_id = s.tenant_id AND w.id = s.endpoint_id
), endpoints AS (
    UPDATE webhook_endpoints w
    SET failing_since = x.failing_since,
        enabled = w.enabled AND x.disable IS NULL,
        disabled_reason = CASE WHEN w.enabled AND x.disable IS NOT NULL
            THEN x.disable ELSE w.disabled_reason END,
        updated_at = CASE WHEN w.enabled AND x.disable IS NOT NULL
            THEN now() ELSE w.updated_at END
    FROM streaks x
    WHERE w.tenant_id = x.tenant_id AND w.id = x.endpoint_id
    RETURNING w.id, x.was_enabled AND x.disable IS NOT NULL AS disabled
)
SELECT id FROM endpoints WHERE disabled
""")


# How many deliveries are due now, and how long the oldest of them has waited (seconds).
QUEUE_DEPTH_NOW = text("""
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(d.next_attempt_at)), 0)
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.tenant_id = d.tenant_id AND w.id = d.endpoint_id
WHERE w.enabled AND d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
""")


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of, with everything needed to send it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    token: uuid.UUID
    attempt: int
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    sealed_secrets: tuple[str, ...]  # as stored: the dispatcher opens them to sign
    body: bytes
    queued_seconds: float


@dataclass(frozen=True)
class Outcome:
    """How one attempt went, and what becomes of its delivery."""

    claimed: Claimed
    started_at: datetime
    duration_ms: int
    outcome: AttemptOutcome
    status: DeliveryStatus  # pending (retry), succeeded or failed
    delay: float = 0.0
    status_code: int | None = None
    error: str | None = None
    response_body: str | None = None
    endpoint_gone: bool = False

    @property
    def ok(self) -> bool:
        return self.status == DeliveryStatus.SUCCEEDED


def attempt_records(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One record per attempt for CLOSE_ATTEMPTS, each value named like the column it fills."""
    return [
        {
            "tenant_id": o.claimed.tenant_id,
            "delivery_id": o.claimed.id,
            "claim_token": o.claimed.token,
            "status": o.status,
            "delay_seconds": o.delay,
            "attempt": o.claimed.attempt,
            "started_at": o.started_at,
            "duration_ms": o.duration_ms,
            "status_code": o.status_code,
            "outcome": o.outcome,
            "error": o.error,
            "response_body": o.response_body,
        }
        for o in outcomes
    ]


def endpoint_records(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One record per endpoint for CLOSE_ATTEMPTS: its last attempt decides, any 410 disables."""
    last = {o.claimed.endpoint_id: o for o in sorted(outcomes, key=lambda o: o.started_at)}
    gone = {o.claimed.endpoint_id for o in outcomes if o.endpoint_gone}
    return [
        {
            "tenant_id": o.claimed.tenant_id,
            "endpoint_id": endpoint_id,
            "ok": o.ok,
            "started_at": o.started_at,
            "gone": endpoint_id in gone,
        }
        for endpoint_id, o in last.items()
    ]


def _jsonb(records: list[dict[str, Any]]) -> str:
    # UTF-8 text, not \uXXXX escapes: those make a non-ASCII response body up to 3 times longer.
    return json.dumps(records, default=jsonable, ensure_ascii=False)


async def claim(
    connection: AsyncConnection,
    limit: int,
    lease_seconds: float,
    per_endpoint: int,
    per_tenant: int,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries to this worker, fairly across tenants (commit first)."""
    token = uuid.uuid4()
    rows = await connection.execute(
        CLAIM_DELIVERIES,
        {
            "limit": limit,
            "lease_seconds": lease_seconds,
            "per_endpoint": per_endpoint,
            "per_tenant": per_tenant,
            "claim_token": token,
        },
    )
    return [
        Claimed(
            id=row.id,
            tenant_id=row.tenant_id,
            token=token,
            attempt=row.attempts,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            url=row.url,
            sealed_secrets=tuple(s for s in (row.secret, row.previous_secret) if s),
            body=row.body.encode(),
            queued_seconds=row.queued_seconds,
        )
        for row in rows
    ]


async def reap(connection: AsyncConnection) -> int:
    """Put deliveries whose lease ran out (their worker died) back in the queue."""
    result = await connection.execute(REAP_LEASES)
    return result.rowcount


async def close(
    connection: AsyncConnection, outcomes: Sequence[Outcome], disable_after_seconds: float
) -> list[uuid.UUID]:
    """Record a batch of attempts; return the endpoints it disabled."""
    rows = await connection.execute(
        CLOSE_ATTEMPTS,
        {
            "attempts": _jsonb(attempt_records(outcomes)),
            "endpoints": _jsonb(endpoint_records(outcomes)),
            "disable_after_seconds": disable_after_seconds,
        },
    )
    return list(rows.scalars())


async def depth(connection: AsyncConnection | AsyncSession) -> tuple[int, float]:
    """How many deliveries are due now, and the age of the oldest of them in seconds."""
    due, oldest = (await connection.execute(QUEUE_DEPTH_NOW)).one()
    return int(due), float(oldest)
