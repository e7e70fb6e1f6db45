"""Background jobs on the database: a round now, then one every interval, until stopped."""

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import ClassVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db.engine import create_engine

logger = logging.getLogger(__name__)


class PeriodicJob(ABC):
    """Run `round(engine)` now and then every `interval()` seconds until `stop()`; `run()`.

    A round that loses the database is logged and tried again an interval later.
    """

    name: ClassVar[str]  # in the log and the connections' application name

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.url = database_url
        self.settings = settings
        self._stopping = asyncio.Event()

    @abstractmethod
    def interval(self) -> float:
        """Seconds between rounds."""

    @abstractmethod
    async def round(self, engine: AsyncEngine) -> object:
        """One round of the job's work."""

    def _engine(self) -> AsyncEngine:
        return create_engine(self.url, self.settings, f"convene-{self.name}")

    async def stop(self) -> None:
        """Stop after the batch in hand; return from run()."""
        self._stopping.set()

    async def run(self) -> None:
        """A round now, then one every interval, until stopped; survives a lost database."""
        engine = self._engine()
        try:
            while not self._stopping.is_set():
                try:
                    await self.round(engine)
                except (OSError, TimeoutError, DBAPIError):
                    logger.warning("%s round failed; next round in an interval", self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.interval())
        finally:
            await engine.dispose()
