"""The delivery queue's SQL: claim under a lease, take back expired leases, record attempts.

Each runs as one short transaction; none is held open across HTTP.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models.states import AttemptOutcome, DeliveryStatus

# Claims due deliveries of enabled endpoints, oldest due first. Per endpoint it takes at most
# the free share of `per_endpoint` (the bound minus what is in flight, across all workers), so
# a slow endpoint cannot fill a batch. A delivery waits while an earlier event of the same
# follow-up to the same endpoint is in flight or not yet tried, so a healthy endpoint receives
# each follow-up's events in seq order; one in back-off holds nothing up.
_CLAIM = """
WITH candidates AS (
    SELECT due.id, due.next_attempt_at
    FROM webhook_endpoints w
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at
        FROM webhook_deliveries d
        WHERE d.endpoint_id = w.id
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
        LIMIT greatest(0, $3::int - (
            SELECT count(*) FROM webhook_deliveries f
            WHERE f.endpoint_id = w.id AND f.status = 'delivering'
        ))
    ) AS due
    WHERE w.enabled
    ORDER BY due.next_attempt_at
    LIMIT $1
), locked AS (
    SELECT d.id FROM webhook_deliveries d
    WHERE d.id IN (SELECT id FROM candidates) AND d.status = 'pending'
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_deliveries d
SET status = 'delivering',
    attempts = d.attempts + 1,
    lease_until = clock_timestamp() + make_interval(secs => $2),
    claim_token = $4,
    last_attempt_at = clock_timestamp()
FROM locked, events e, webhook_endpoints w
WHERE d.id = locked.id AND e.id = d.event_id AND w.id = d.endpoint_id
RETURNING d.id, d.attempts, d.endpoint_id, d.event_id, w.url, w.secret,
    CASE WHEN w.previous_secret_expires_at > clock_timestamp() THEN w.previous_secret END
        AS previous_secret,
    jsonb_build_object(
        'type', e.type,
        'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'data', e.data
    )::text AS body,
    extract(epoch FROM clock_timestamp() - d.created_at)::float8 AS queued_seconds
"""

_REAP = """
UPDATE webhook_deliveries
SET status = 'pending', lease_until = NULL, claim_token = NULL
WHERE status = 'delivering' AND lease_until < clock_timestamp()
"""

# Records a batch of attempts in one statement (one round trip, atomic): closes each delivery
# (only through the claim token that sent it, so a delivery whose lease was taken back keeps
# its new owner's state), logs the attempt (unless the delivery was deleted meanwhile), and
# updates each endpoint's failing streak, disabling it on 410 Gone or after too long failing.
_CLOSE = """
WITH r AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::int[], $6::text[],
        $7::int[], $8::timestamptz[], $9::int[], $10::text[], $11::text[]
    ) AS r(id, token, status, delay, status_code, error,
           attempt, started_at, duration_ms, outcome, body)
), closed AS (
    UPDATE webhook_deliveries d
    SET status = r.status,
        next_attempt_at = CASE WHEN r.status = 'pending'
            THEN clock_timestamp() + make_interval(secs => r.delay) ELSE d.next_attempt_at END,
        delivered_at = CASE WHEN r.status = 'succeeded' THEN clock_timestamp() END,
        lease_until = NULL,
        claim_token = NULL,
        last_status_code = r.status_code,
        last_error = r.error
    FROM r
    WHERE d.id = r.id AND d.claim_token = r.token
), logged AS (
    INSERT INTO webhook_attempts (
        delivery_id, attempt, started_at, duration_ms, status_code, outcome, error,
        response_body
    )
    SELECT r.id, r.attempt, r.started_at, r.duration_ms, r.status_code, r.outcome, r.error,
        r.body
    FROM r
    WHERE EXISTS (SELECT FROM webhook_deliveries d WHERE d.id = r.id)
), streaks AS (
    SELECT s.id, w.enabled AS was_enabled,
        CASE WHEN s.ok THEN NULL ELSE coalesce(w.failing_since, s.since) END AS failing_since,
        CASE WHEN s.gone THEN 'gone'
             WHEN NOT s.ok AND coalesce(w.failing_since, s.since)
                 < clock_timestamp() - make_interval(secs => $16)
             THEN 'failing' END AS disable
    FROM unnest($12::uuid[], $13::bool[], $14::timestamptz[], $15::bool[])
        AS s(id, ok, since, gone)
    JOIN webhook_endpoints w ON w.id = s.id
), endpoints AS (
    UPDATE webhook_endpoints w
    SET failing_since = x.failing_since,
        enabled = w.enabled AND x.disable IS NULL,
        disabled_reason = CASE WHEN w.enabled AND x.disable IS NOT NULL
            THEN x.disable ELSE w.disabled_reason END,
        updated_at = CASE WHEN w.enabled AND x.disable IS NOT NULL
            THEN now() ELSE w.updated_at END
    FROM streaks x
    WHERE w.id = x.id
    RETURNING w.id, x.was_enabled AND x.disable IS NOT NULL AS disabled
)
SELECT id FROM endpoints WHERE disabled
"""


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds the lease of, with everything needed to send it."""

    id: uuid.UUID
    token: uuid.UUID
    attempt: int
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
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


async def claim(
    connection: Any, limit: int, lease_seconds: float, per_endpoint: int
) -> list[Claimed]:
    """Lease up to `limit` due deliveries to this worker (committed before anything is sent)."""
    token = uuid.uuid4()
    rows = await connection.fetch(_CLAIM, limit, lease_seconds, per_endpoint, token)
    return [
        Claimed(
            id=row["id"],
            token=token,
            attempt=row["attempts"],
            endpoint_id=row["endpoint_id"],
            event_id=row["event_id"],
            url=row["url"],
            secrets=tuple(s for s in (row["secret"], row["previous_secret"]) if s),
            body=row["body"].encode(),
            queued_seconds=row["queued_seconds"],
        )
        for row in rows
    ]


async def reap(connection: Any) -> int:
    """Put deliveries whose lease ran out (their worker died) back in the queue."""
    status: str = await connection.execute(_REAP)
    return int(status.split()[-1])


async def close(
    connection: Any, outcomes: Sequence[Outcome], disable_after_seconds: float
) -> list[uuid.UUID]:
    """Record a batch of attempts; return the endpoints it disabled."""
    # Per endpoint, the batch's last attempt decides the streak; any 410 disables it.
    last = {o.claimed.endpoint_id: o for o in sorted(outcomes, key=lambda o: o.started_at)}
    gone = {o.claimed.endpoint_id for o in outcomes if o.endpoint_gone}
    rows = await connection.fetch(
        _CLOSE,
        [o.claimed.id for o in outcomes],
        [o.claimed.token for o in outcomes],
        [o.status for o in outcomes],
        [o.delay for o in outcomes],
        [o.status_code for o in outcomes],
        [o.error for o in outcomes],
        [o.claimed.attempt for o in outcomes],
        [o.started_at for o in outcomes],
        [o.duration_ms for o in outcomes],
        [o.outcome for o in outcomes],
        [o.response_body for o in outcomes],
        list(last),
        [o.ok for o in last.values()],
        [o.started_at for o in last.values()],
        [endpoint in gone for endpoint in last],
        disable_after_seconds,
    )
    return [row["id"] for row in rows]
