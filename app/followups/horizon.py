"""The series job: as time passes, book unbounded series further ahead (HORIZON from now).

It runs beside every webhook dispatcher, like the retention job. Any number of processes may
run it at once: each batch locks the series it extends with SKIP LOCKED, so two processes
never extend one series, and neither waits for the other.
"""

import logging

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.db.jobs import PeriodicJob
from app.followups.series import extend_due

logger = logging.getLogger(__name__)


class HorizonJob(PeriodicJob):
    """Extend due series every `CONVENE_SERIES_INTERVAL_SECONDS`, in batches; `run()`."""

    name = "series"

    def interval(self) -> float:
        """`CONVENE_SERIES_INTERVAL_SECONDS`."""
        return self.settings.series_interval_seconds

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
