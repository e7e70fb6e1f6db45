"""The series job: as time passes, book unbounded series further ahead (HORIZON from now).

It runs beside every webhook dispatcher, like the retention job. Any number of processes may
run it at once: each batch locks the series it extends with SKIP LOCKED, so two processes
never extend one series, and neither waits for the other.
"""

import asyncio
import contextlib
import logging

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.config import Settings
from app.db.engine import create_engine
from app.followups.series import extend_due

logger = logging.getLogger(__name__)


class HorizonJob:
    """Extend due series every `CONVENE_SERIES_INTERVAL_SECONDS`, in batches; `run()`."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.url = database_url
        self.settings = settings
        self._stopping = asyncio.Event()

    async def stop(self) -> None:
        """Stop after the batch in hand; return from run()."""
        self._stopping.set()

    async def run(self) -> None:
        """A round now, then one every interval, until stopped; survives a lost database."""
        engine = create_engine(self.url, self.settings, "convene-series")
        try:
            while not self._stopping.is_set():
                try:
                    await self.round(engine)
                except (OSError, TimeoutError, DBAPIError):
                    logger.warning("series round failed; next round in an interval")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stopping.wait(), self.settings.series_interval_seconds
                    )
        finally:
            await engine.dispose()

    async def round(self, engine: AsyncEngine) -> int:
        """Extend every due series, a batch per transaction; the series extended."""
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        batch = self.settings.series_batch_size
        extended = 0
        while not self._stopping.is_set():
            async with sessions() as session, session.begin():
                count = await extend_due(session, batch)
            extended += count
            if count < batch:
                break
        if extended:
            logger.info("series job booked %d series further ahead", extended)
        return extended
