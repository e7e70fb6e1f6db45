"""The retention job: every interval, one process among all takes a lock and runs the purges.

It runs beside every webhook dispatcher (`convene worker`, and `convene serve` unless its
dispatcher is off); a session advisory lock, tried and never waited for, makes one of them do
each round. Each batch is a statement of its own (AUTOCOMMIT), so locks are held for one batch
only, and a short pause between batches leaves room for the service's own writes.
"""

import asyncio
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.engine import direct_url, session_engine
from app.db.jobs import PeriodicJob
from app.retention.purges import PURGES, Purge

logger = logging.getLogger(__name__)

# The advisory lock's key, from a name, like the dispatcher election's.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"convene:retention").digest()[:8], "big", signed=True)
_CONNECT_TIMEOUT_SECONDS = 10.0

# Takes the retention lock for this session unless another session holds it; true if taken.
TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
# Lets go of the retention lock.
UNLOCK = text("SELECT pg_advisory_unlock(:key)")


async def purge(
    connection: AsyncConnection,
    settings: Settings,
    purges: tuple[Purge, ...] = PURGES,
    stopping: asyncio.Event | None = None,
) -> dict[str, int]:
    """Run each purge in batches until one comes back short; rows removed per purge."""
    batch = settings.retention_batch_size
    removed: dict[str, int] = {}
    for each in purges:
        params: dict[str, float] = {"batch": batch}
        if each.age is not None:
            params["age_seconds"] = each.age(settings).total_seconds()
        removed[each.name] = 0
        while stopping is None or not stopping.is_set():
            count = (await connection.execute(each.statement, params)).rowcount
            removed[each.name] += count
            if count < batch:
                break
            await asyncio.sleep(settings.retention_pause_seconds)
    return removed


class RetentionJob(PeriodicJob):
    """Purge every `CONVENE_RETENTION_INTERVAL_SECONDS` when no other process is; `run()`."""

    name = "retention"

    def __init__(self, database_url: str, settings: Settings) -> None:
        super().__init__(
            direct_url(settings, database_url), settings
        )  # a session lock: never a pooler

    def interval(self) -> float:
        """`CONVENE_RETENTION_INTERVAL_SECONDS`."""
        return self.settings.retention_interval_seconds

    async def round(self, engine: AsyncEngine) -> dict[str, int] | None:
        """One round if this process gets the lock: rows removed per purge, else None."""
        async with engine.connect() as connection:
            if not await connection.scalar(TRY_LOCK, {"key": LOCK_KEY}):
                return None
            try:
                removed = await purge(connection, self.settings, stopping=self._stopping)
            finally:
                await connection.execute(UNLOCK, {"key": LOCK_KEY})
        if any(removed.values()):
            logger.info(
                "retention removed %s",
                ", ".join(f"{n} {name}" for name, n in removed.items() if n),
            )
        return removed

    def _engine(self) -> AsyncEngine:
        # One connection per round, closed with it (which would release the lock even if
        # the unlock never ran); each batch commits by itself; a lock wait gives up soon.
        return session_engine(
            self.url,
            "convene-retention",
            _CONNECT_TIMEOUT_SECONDS,
            server_settings={"lock_timeout": "5s", "statement_timeout": "60s"},
        )
