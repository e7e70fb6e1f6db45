"""The mail job: sends queued iMIP e-mails over SMTP (aiosmtplib), retried with back-off.

It runs beside every webhook dispatcher (in `convene serve` and `convene worker`) when an
SMTP server is configured. Each round reaps leases that ran out, claims due messages with
FOR UPDATE SKIP LOCKED (any number of workers share the queue) and commits before sending;
each outcome is then written back through the lease that sent it. A worker that dies
mid-send loses nothing: the message goes out again once its lease runs out (at least once).
"""

import logging

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings, SmtpServer
from app.db.jobs import PeriodicJob
from app.imip import metrics
from app.imip.repository import Claimed, claim, close, reap
from app.models.states import DeliveryStatus
from app.webhooks.retries import next_delay

logger = logging.getLogger(__name__)

_ERROR_LIMIT = 1000


def _permanent(exc: Exception) -> bool:
    """Whether the SMTP server's refusal is final (5xx), not a temporary 4xx or a network fault."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= 500 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code >= 500
    return False


async def send_one(settings: Settings, server: SmtpServer, claimed: Claimed) -> None:
    """Hand one message to the SMTP server; raises what went wrong."""
    assert settings.mail_from is not None
    await aiosmtplib.send(
        claimed.message,
        sender=settings.mail_from,
        recipients=[claimed.recipient],
        hostname=server.host,
        port=server.port,
        username=server.username,
        password=server.password,
        use_tls=server.implicit_tls,
        start_tls=None
        if server.implicit_tls or settings.smtp_starttls == "auto"
        else settings.smtp_starttls == "required",
        timeout=settings.smtp_timeout_seconds,
    )


class MailJob(PeriodicJob):
    """Send due e-mails every `CONVENE_MAIL_POLL_SECONDS`, a batch at a time; `run()`."""

    name = "mail"

    def __init__(self, database_url: str, settings: Settings) -> None:
        assert settings.smtp_server is not None, "the mail job needs CONVENE_SMTP_URL"
        super().__init__(database_url, settings)
        self.server = settings.smtp_server

    def interval(self) -> float:
        """`CONVENE_MAIL_POLL_SECONDS`."""
        return self.settings.mail_poll_seconds

    async def round(self, engine: AsyncEngine) -> int:
        """Send every due message, a batch per claim; how many attempts were made."""
        async with engine.begin() as connection:
            reaped = await reap(connection)
            await metrics.refresh_queue_gauge(connection)
        if reaped:
            logger.warning("took back %d e-mails whose lease ran out", reaped)
        attempts = 0
        batch = self.settings.mail_batch_size
        while not self._stopping.is_set():
            async with engine.begin() as connection:
                claimed = await claim(connection, batch, self.settings.mail_lease_seconds)
            # Committed: only now may they be sent.
            for message in claimed:
                await self._attempt(engine, message)
            attempts += len(claimed)
            if len(claimed) < batch:
                break
        return attempts

    async def _attempt(self, engine: AsyncEngine, message: Claimed) -> None:
        """Send one message and record how it went: sent, retried later, or given up."""
        error: str | None = None
        status, delay = DeliveryStatus.SUCCEEDED, 0.0
        try:
            await send_one(self.settings, self.server, message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT]
            wait = (
                None
                if _permanent(exc)
                else next_delay(message.attempt, self.settings.mail_retry_delays)
            )
            status, delay = (
                (DeliveryStatus.FAILED, 0.0) if wait is None else (DeliveryStatus.PENDING, wait)
            )
            logger.warning("e-mail %s to the SMTP server failed: %s", message.id, error)
        metrics.SENT.labels(status.value).inc()
        async with engine.begin() as connection:
            await close(connection, message, status, delay, error)
