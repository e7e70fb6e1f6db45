"""Prometheus metrics of webhook delivery, and the queue figures read from the database."""

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.webhooks import queue

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


async def refresh_queue_gauges(connection: AsyncConnection | AsyncSession) -> None:
    """Read the queue's depth and oldest due age into the gauges."""
    depth, oldest = await queue.depth(connection)
    QUEUE_DEPTH.set(int(depth))
    OLDEST_DUE.set(float(oldest))
