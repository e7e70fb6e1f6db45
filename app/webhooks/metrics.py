"""Prometheus metrics of webhook delivery, and the queue figures read from the database."""

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

ATTEMPTS = Counter(
    "convene_webhook_deliveries",
    "Delivery attempts by outcome: success, http_error, redirect, gone, timeout, "
    "connection_error, refused (the SSRF guard) or error (a fault of the dispatcher)",
    ["outcome"],
)
GIVEN_UP = Counter(
    "convene_webhook_deliveries_given_up",
    "Deliveries that failed every retry, or whose endpoint answered 410 Gone",
)
QUEUE_DEPTH = Gauge(
    "convene_webhook_queue_depth", "Deliveries due now to enabled endpoints, not yet claimed"
)
OLDEST_DUE = Gauge(
    "convene_webhook_oldest_due_seconds", "How long the oldest due delivery has been waiting"
)
FIRST_ATTEMPT_LATENCY = Histogram(
    "convene_webhook_commit_to_first_attempt_seconds",
    "From the event's commit to the first attempt to deliver it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ATTEMPT_DURATION = Histogram(
    "convene_webhook_attempt_seconds",
    "Duration of one delivery attempt, connect to response",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)

# How many deliveries are due now, and how long the oldest of them has waited (seconds).
QUEUE_DEPTH_NOW = text("""
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(d.next_attempt_at)), 0)
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.tenant_id = d.tenant_id AND w.id = d.endpoint_id
WHERE w.enabled AND d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
""")


async def refresh_queue_gauges(connection: AsyncConnection | AsyncSession) -> None:
    """Read the queue's depth and oldest due age into the gauges."""
    depth, oldest = (await connection.execute(QUEUE_DEPTH_NOW)).one()
    QUEUE_DEPTH.set(int(depth))
    OLDEST_DUE.set(float(oldest))
