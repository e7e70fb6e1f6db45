"""The retention job's rounds: one process at a time, by a lock it tries and never waits for."""

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db.engine import async_url
from app.retention.job import LOCK_KEY, TRY_LOCK, UNLOCK, RetentionJob
from tests.fixtures.factories import TEST_SECRET
from tests.fixtures.pgbouncer import direct

OLD_NOTIFICATION = text("""
INSERT INTO notifications (id, tenant_id, associate_id, kind, follow_up_id, message, created_at)
SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'invited', gen_random_uuid(),
    'm', now() - interval '100 days'
FROM generate_series(1, 3)
""")


def test_a_round_runs_only_while_no_other_process_holds_the_lock(
    make_database: Callable[..., str], tmp_path: Path
) -> None:
    url = direct(make_database())
    settings = Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, retention_pause_seconds=0)
    asyncio.run(_rounds(url, settings))


async def _rounds(url: str, settings: Settings) -> None:
    job = RetentionJob(url, settings)
    engine = job._engine()
    other = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with other.connect() as holder:
            await holder.execute(OLD_NOTIFICATION)
            assert await holder.scalar(TRY_LOCK, {"key": LOCK_KEY})

            assert await job.round(engine) is None

            await holder.execute(UNLOCK, {"key": LOCK_KEY})
            removed = await job.round(engine)
            assert removed is not None
            assert removed["notifications"] == 3
            # The round let go of the lock: another process can take it now.
            assert await holder.scalar(TRY_LOCK, {"key": LOCK_KEY})
            await holder.execute(UNLOCK, {"key": LOCK_KEY})
    finally:
        await engine.dispose()
        await other.dispose()
