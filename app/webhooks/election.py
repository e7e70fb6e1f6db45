"""One webhook dispatcher among all the API processes of a database, elected by an advisory lock.

Every process in the election keeps a direct connection (a session lock cannot live behind a
transaction pooler) and tries the lock every poll interval; the one that holds it runs the
dispatcher. When its process or connection dies, the server releases the lock and another
process takes over within an interval. Two dispatchers for a moment (the old one finishing its
attempts while the new one starts) are harmless: claims are leased rows, taken SKIP LOCKED.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.engine import direct_url, session_engine
from app.webhooks.dispatcher import Dispatcher

logger = logging.getLogger(__name__)

# The advisory lock's key, derived from a name so that no other user of advisory locks in the
# database picks it by chance.
LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"convene:webhook-dispatcher").digest()[:8], "big", signed=True
)
_TIMEOUT_SECONDS = 5.0  # to connect, and for each statement

# Takes the dispatcher's lock for this session unless another session holds it; true if taken.
TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
# One round trip, which fails once the session (and the lock with it) is gone.
STILL_CONNECTED = text("SELECT 1")


class Runner(Protocol):
    """What the election runs: a dispatcher."""

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class Election:
    """Run the dispatcher `make` builds while this process holds the lock; `run()` to `stop()`."""

    def __init__(self, url: str, make: Callable[[], Runner], interval: float) -> None:
        self.url = url
        self.make = make
        self.interval = interval
        self.leading = False
        self._stopping = asyncio.Event()

    async def stop(self) -> None:
        """Stop the dispatcher if this process runs it, let go of the lock, return from run()."""
        self._stopping.set()

    async def run(self) -> None:
        """Stand by, lead when elected, and stand by again whenever the connection is lost."""
        engine = self._engine()
        try:
            while not self._stopping.is_set():
                try:
                    async with engine.connect() as connection:
                        await self._take_part(connection)
                except (OSError, TimeoutError, DBAPIError):
                    logger.warning("webhook dispatcher election lost its connection; retrying")
                await self._pause()
        finally:
            await engine.dispose()

    def _engine(self) -> AsyncEngine:
        # Direct (a session lock cannot live behind a transaction pooler), one connection that
        # closes with its block (which ends the session and so releases the lock), and no
        # transaction left open while the lock is held.
        return session_engine(
            self.url, "convene-election", _TIMEOUT_SECONDS, command_timeout=_TIMEOUT_SECONDS
        )

    async def _pause(self) -> bool:
        """Wait one interval; whether we are stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.interval)
        return self._stopping.is_set()

    async def _take_part(self, connection: AsyncConnection) -> None:
        while not await connection.scalar(TRY_LOCK, {"key": LOCK_KEY}):
            if await self._pause():
                return
        await self._lead(connection)

    async def _lead(self, connection: AsyncConnection) -> None:
        logger.info("this process runs the webhook dispatcher (elected)")
        self.leading = True
        dispatcher = self.make()
        running = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
        try:
            while not running.done() and not await self._pause():
                # A lost session has lost the lock too: someone else may lead by now.
                await connection.execute(STILL_CONNECTED)
        finally:
            self.leading = False
            await dispatcher.stop()
            await asyncio.gather(running, return_exceptions=True)
            if running.done() and not running.cancelled() and running.exception():
                logger.error("the webhook dispatcher stopped", exc_info=running.exception())


def in_process_dispatcher(settings: Settings, url: str) -> Runner | None:
    """What `convene serve` runs in each API process, as CONVENE_WEBHOOK_DISPATCHER says."""
    if settings.webhook_dispatcher == "off":
        return None
    if settings.webhook_dispatcher == "one":
        return Election(
            direct_url(settings, url),
            lambda: Dispatcher(url, settings),
            settings.webhook_poll_seconds,
        )
    return Dispatcher(url, settings)
