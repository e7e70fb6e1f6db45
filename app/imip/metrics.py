"""Prometheus metrics of e-mailed invitations: attempts by outcome and the queue's depth."""

from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.imip import repository

SENT = Counter(
    "convene_mail_attempts",
    "iMIP e-mail attempts by what became of the message: succeeded (sent), pending (to be "
    "retried) or failed (refused for good, or out of retries)",
    ["status"],
)
QUEUE_DEPTH = Gauge(
    "convene_mail_queue_depth",
    "E-mails due now, not yet claimed by a worker",
    multiprocess_mode="mostrecent",
)


async def refresh_queue_gauge(connection: AsyncConnection | AsyncSession) -> None:
    """Read the mail queue's depth into the gauge."""
    QUEUE_DEPTH.set(await repository.depth(connection))
