"""Prometheus metrics of webhook delivery, and the queue figures read from the database."""

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

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
logger = logging.getLogger(__name__)

# With several processes (multiprocess mode) the queue figures are the latest any one read.
QUEUE_DEPTH = Gauge(
    "convene_webhook_queue_depth",
    "Deliveries due now to enabled endpoints, not yet claimed",
    multiprocess_mode="mostrecent",
)
OLDEST_DUE = Gauge(
    "convene_webhook_oldest_due_seconds",
    "How long the oldest due delivery has been waiting",
    multiprocess_mode="mostrecent",
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


class QueueGauges:
    """The queue gauges, read from the database at most once per `max_age` seconds.

    Scrapes in between serve the last reading, so scraping often (or from several
    Prometheus servers) costs the database one query per interval, not one per scrape.
    """

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self.max_age

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Read the queue into the gauges unless the last reading is recent enough."""
        if self._fresh():
            return
        async with self._lock:  # concurrent scrapes wait for one reading, not send their own
            if self._fresh():
                return
            # A failed reading counts too: a database that is down is not asked every scrape.
            self._read_at = self._clock()
            try:
                async with sessionmaker() as session:
                    await refresh_queue_gauges(session)
            except Exception:
                # The counters are still worth serving; the gauges keep their last reading.
                logger.warning("could not read the webhook queue for /metrics", exc_info=True)
