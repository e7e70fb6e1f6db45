"""A second session for a request that can use two connections at once, if one is free now."""

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool


def _can_lend(engine: AsyncEngine) -> bool:
    """Whether the engine's pool can hand out a connection without waiting for one."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, QueuePool):
        return False
    return pool.checkedin() > 0 or pool.overflow() < pool._max_overflow


async def spare_session(session: AsyncSession) -> AsyncSession | None:
    """A new session on `session`'s engine holding its own connection, or None.

    None when the session is bound to one connection (the tests' transaction) or when the pool
    has no connection idle and may open no more: a request that already holds one and waited
    for a second could wait on requests that do the same, so it goes without. The session
    takes its own connection first; between the check and the checkout nothing else runs (the
    checkout of an idle connection, or the pool's count of a new one, happens before the first
    await that yields). The caller closes the new session.
    """
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        return None
    await session.connection()
    if not _can_lend(bind):
        return None
    spare = AsyncSession(bind, info=dict(session.info))
    await spare.connection()
    return spare
