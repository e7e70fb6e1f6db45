"""The dispatcher: claims due deliveries, sends them signed, records what happened.

It runs inside `convene serve` and as `convene worker`, any number at once. Each claim is a
short transaction that leases rows (FOR UPDATE SKIP LOCKED) and commits before any HTTP is
sent; results are written back in batches. A worker that dies loses nothing: its leases run
out and the reaper of any live worker puts those deliveries back in the queue. Statements run
through a SQLAlchemy engine (PgBouncer in transaction mode will do); one raw asyncpg
connection only LISTENs, on the direct URL when one is set.
"""

import asyncio
import contextlib
import logging
import time
import uuid

import aiohttp
import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.db.base import utc_now
from app.db.engine import async_url, direct_url, plain_dsn, pooler_args
from app.kit.keyring import SealError
from app.models.states import AttemptOutcome, DeliveryStatus
from app.webhooks import metrics, queue, sealed_secrets
from app.webhooks.address_guard import RefusedAddress, address_policy
from app.webhooks.events import CHANNEL
from app.webhooks.retries import next_delay, parse_retry_after
from app.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

RESPONSE_BODY_LIMIT = 4096
_BATCH = 100
_REAP_EVERY_SECONDS = 5.0
_WRITE_BATCH = 500
_FLUSH_ON_STOP_SECONDS = 10.0
_USER_AGENT = "Convene-Webhooks/1"
APPLICATION_NAME = "convene-dispatcher"  # in pg_stat_activity, for every connection of ours
_SERVER_GOING = ("57P01", "57P02", "57P03")


class Dispatcher:
    """One worker's delivery loop; `run()` until `stop()`."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.url = async_url(database_url)
        # LISTEN is session state, which a transaction pooler does not keep.
        self.dsn = plain_dsn(direct_url(settings, database_url))
        self.settings = settings
        self.policy = address_policy(settings)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[queue.Outcome] = asyncio.Queue()
        self._last_reap = 0.0

    async def stop(self) -> None:
        """Finish the attempts in flight, record them, and return from run()."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped; survives database and network failures by retrying."""
        engine = await self._connect()
        if engine is None:
            return
        timeout = aiohttp.ClientTimeout(
            total=self.settings.webhook_timeout_seconds,
            sock_connect=self.settings.webhook_connect_timeout_seconds,
        )
        connector = aiohttp.TCPConnector(
            resolver=self.policy.resolver(),
            limit=self.settings.webhook_concurrency,
            # No per-host cap: two endpoints can share a host, and the claim already bounds
            # each endpoint; a cap here would make one slow endpoint queue the other's requests.
            limit_per_host=0,
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"user-agent": _USER_AGENT}
        ) as http:
            listener = asyncio.create_task(self._listen())
            writer = asyncio.create_task(self._write_outcomes(engine))
            try:
                await self._claim_loop(engine, http)
                if self._in_flight:
                    await asyncio.wait(self._in_flight)
                # Bounded: with the database gone, unwritten outcomes are simply sent again
                # once their leases run out.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._outcomes.join(), _FLUSH_ON_STOP_SECONDS)
            finally:
                listener.cancel()
                writer.cancel()
                for task in self._in_flight:
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.gather(listener, writer, *self._in_flight)
                await engine.dispose()

    async def _connect(self) -> AsyncEngine | None:
        """An engine whose database answers, retried until it does (None if stopped first)."""
        # Every claim, reap and close is one statement, so a transaction by itself: AUTOCOMMIT
        # makes engine.begin() spare the BEGIN and COMMIT round trips, which an endpoint's
        # in-flight slots would wait for (and begin() stays right should that ever change).
        # Behind PgBouncer a statement's prepare and execute must share a transaction, or the
        # pooler may run them on two server connections: there begin() sends BEGIN and COMMIT.
        pgbouncer = self.settings.database_pgbouncer
        engine = create_async_engine(
            self.url,
            pool_size=3,
            max_overflow=0,
            isolation_level="READ COMMITTED" if pgbouncer else "AUTOCOMMIT",
            hide_parameters=True,
            connect_args={
                "server_settings": {"application_name": APPLICATION_NAME, "timezone": "UTC"},
                **pooler_args(self.settings),
            },
        )
        while not self._stopping.is_set():
            try:
                async with engine.connect():
                    return engine
            except (OSError, DBAPIError):
                logger.warning("webhook dispatcher cannot reach the database; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 2.0)
        await engine.dispose()
        return None

    async def _claim_loop(self, engine: AsyncEngine, http: aiohttp.ClientSession) -> None:
        settings = self.settings
        while not self._stopping.is_set():
            self._wake.clear()
            full = False
            try:
                await self._reap_now_and_then(engine)
                room = settings.webhook_concurrency - len(self._in_flight)
                if room > 0:
                    limit = min(room, _BATCH)
                    async with engine.begin() as connection:
                        claimed = await queue.claim(
                            connection,
                            limit,
                            settings.webhook_lease_seconds,
                            settings.webhook_endpoint_concurrency,
                            settings.webhook_tenant_concurrency,
                        )
                    # Committed (the claim is one statement): only now may they be sent.
                    full = len(claimed) == limit
                    for delivery in claimed:
                        task = asyncio.create_task(self._send(http, delivery))
                        self._in_flight.add(task)
                        task.add_done_callback(self._in_flight.discard)
            except Exception:
                # Whatever failed, the dispatcher must outlive it; unsent claims come back
                # when their lease runs out.
                logger.exception("webhook claim failed; retrying")
            if full:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), settings.webhook_poll_seconds)

    async def _reap_now_and_then(self, engine: AsyncEngine) -> None:
        if time.monotonic() - self._last_reap < _REAP_EVERY_SECONDS:
            return
        self._last_reap = time.monotonic()
        async with engine.begin() as connection:
            reaped = await queue.reap(connection)
            await metrics.refresh_queue_gauges(connection)
        if reaped:
            logger.warning("took back %d webhook deliveries whose lease ran out", reaped)

    async def _listen(self) -> None:
        """Wake on NOTIFY (sent when an event with deliveries commits); reconnect when lost."""
        while True:
            try:
                await self._listen_until_lost()
            except (OSError, asyncpg.PostgresError):
                logger.warning("webhook LISTEN connection lost; polling meanwhile", exc_info=True)
            await asyncio.sleep(1.0)

    async def _listen_until_lost(self) -> None:
        connection = await asyncpg.connect(
            self.dsn, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda *_: lost.set())
            await connection.add_listener(CHANNEL, lambda *_: self._wake.set())
            self._wake.set()  # anything committed while we were not listening
            await lost.wait()
        finally:
            try:
                await connection.close(timeout=2)
            except BaseException:
                # Cancelled (the dispatcher stopping) or timed out while closing: drop the
                # socket now rather than leave it to the garbage collector.
                connection.terminate()
                raise

    async def _send(self, http: aiohttp.ClientSession, delivery: queue.Claimed) -> None:
        """One attempt: sign, POST without following redirects, classify the answer."""
        if delivery.attempt == 1:
            metrics.FIRST_ATTEMPT_LATENCY.observe(delivery.queued_seconds)
        started_at = utc_now()
        clock = time.perf_counter()
        status_code: int | None = None
        retry_after: float | None = None
        body: str | None = None
        error: str | None = None
        try:
            self.policy.check_target(delivery.url)
            headers = signed_headers(
                self._secrets(delivery), str(delivery.event_id), int(time.time()), delivery.body
            )
            async with http.post(
                delivery.url, data=delivery.body, headers=headers, allow_redirects=False
            ) as response:
                status_code = response.status
                body = await _read_some(response.content)
                if status_code in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
            outcome = _classify(status_code)
        except RefusedAddress as exc:
            outcome, error = AttemptOutcome.REFUSED, str(exc)
        except SealError as exc:
            # A key missing from CONVENE_SECRET_KEYS: retried, so adding the key repairs it.
            logger.error("webhook secret of endpoint %s: %s", delivery.endpoint_id, exc)
            outcome, error = AttemptOutcome.ERROR, f"signing secret unavailable: {exc}"
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, RefusedAddress) or isinstance(
                exc.__cause__, RefusedAddress
            )
            outcome = AttemptOutcome.REFUSED if refused else AttemptOutcome.CONNECTION_ERROR
            error = str(exc)
        except TimeoutError:
            outcome, error = AttemptOutcome.TIMEOUT, "no complete answer in time"
        except (aiohttp.ClientError, OSError) as exc:
            outcome, error = AttemptOutcome.CONNECTION_ERROR, f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # A fault of ours must still close the attempt, or the delivery would be stuck
            # in its lease and retried without a trace.
            logger.exception("webhook attempt of delivery %s failed", delivery.id)
            outcome, error = AttemptOutcome.ERROR, f"{type(exc).__name__}: {exc}"
        duration = time.perf_counter() - clock
        metrics.ATTEMPTS.labels(outcome).inc()
        metrics.ATTEMPT_DURATION.observe(duration)
        if error is None and outcome != AttemptOutcome.SUCCESS:
            error = f"HTTP {status_code}"
        error = _storable(error) if error else None
        status, delay = DeliveryStatus.SUCCEEDED, 0.0
        if outcome != AttemptOutcome.SUCCESS:
            wait = (
                None
                if outcome == AttemptOutcome.GONE
                else next_delay(delivery.attempt, self.settings.webhook_retry_delays, retry_after)
            )
            status, delay = (
                (DeliveryStatus.FAILED, 0.0) if wait is None else (DeliveryStatus.PENDING, wait)
            )
            if status == DeliveryStatus.FAILED:
                metrics.GIVEN_UP.inc()
        await self._outcomes.put(
            queue.Outcome(
                claimed=delivery,
                started_at=started_at,
                duration_ms=round(duration * 1000),
                outcome=outcome,
                status=status,
                delay=delay,
                status_code=status_code,
                error=error,
                response_body=body,
                endpoint_gone=outcome == AttemptOutcome.GONE,
            )
        )

    def _secrets(self, delivery: queue.Claimed) -> list[str]:
        """The delivery's signing secrets, opened with the configured keys."""
        keyring = self.settings.secret_keyring
        return [
            sealed_secrets.open_(keyring, delivery.tenant_id, delivery.endpoint_id, sealed)
            for sealed in delivery.sealed_secrets
        ]

    async def _write_outcomes(self, engine: AsyncEngine) -> None:
        """Record outcomes in batches: whatever has arrived by the time the last write ends."""
        disable_after = self.settings.webhook_disable_after_days * 86400
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < _WRITE_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            for endpoint_id in await self._record(engine, batch, disable_after):
                logger.warning("disabled webhook endpoint %s", endpoint_id)
            for _ in batch:
                self._outcomes.task_done()
            # What these closed may unblock the next event of a follow-up, and frees room.
            self._wake.set()

    async def _record(
        self, engine: AsyncEngine, batch: list[queue.Outcome], disable_after: float
    ) -> list[uuid.UUID]:
        """Write a batch; retried while the database is unreachable, split when it refuses.

        An outcome that cannot be written at all is dropped: its lease runs out and the
        delivery is sent again, which at-least-once allows.
        """
        while True:
            try:
                async with engine.begin() as connection:
                    return await queue.close(connection, batch, disable_after)
            except Exception as exc:
                if _unreachable(exc):
                    logger.warning("recording webhook attempts failed; retrying", exc_info=True)
                    await asyncio.sleep(1.0)
                    continue
                if len(batch) == 1:
                    logger.exception("dropped the outcome of delivery %s", batch[0].claimed.id)
                    return []
                disabled = []
                for outcome in batch:
                    disabled += await self._record(engine, [outcome], disable_after)
                return disabled


def _unreachable(exc: Exception) -> bool:
    """Whether `exc` says the database could not be reached, not that it refused the write."""
    if isinstance(exc, DBAPIError):
        state = str(getattr(exc.orig, "sqlstate", None) or "")
        # Class 08: the connection failed; 57P01-03: the server is shutting down or starting.
        return exc.connection_invalidated or state[:2] == "08" or state in _SERVER_GOING
    return isinstance(exc, OSError | TimeoutError)


def _classify(status_code: int) -> AttemptOutcome:
    if 200 <= status_code < 300:
        return AttemptOutcome.SUCCESS
    if 300 <= status_code < 400:
        return AttemptOutcome.REDIRECT
    if status_code == 410:
        return AttemptOutcome.GONE
    return AttemptOutcome.HTTP_ERROR


async def _read_some(stream: aiohttp.StreamReader) -> str:
    """The start of a response body, at most RESPONSE_BODY_LIMIT bytes, as text."""
    chunks: list[bytes] = []
    size = 0
    while size < RESPONSE_BODY_LIMIT:
        chunk = await stream.read(RESPONSE_BODY_LIMIT - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    text = _storable(b"".join(chunks).decode("utf-8", errors="replace"))
    # Replacement characters take more bytes than what they replace: cut to the limit again,
    # dropping a character split by the cut.
    return text.encode()[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="ignore")


def _storable(value: str) -> str:
    """PostgreSQL text cannot hold NUL."""
    return value.replace("\x00", "\ufffd")
