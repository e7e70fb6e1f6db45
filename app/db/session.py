"""The request's session: one transaction per request, committed at the edge."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database

# Where a request's session carries the app's Settings, for services whose work depends on
# configuration (e-mailed invitations are written only when an SMTP server is set).
SETTINGS_KEY = "settings"


def get_database(request: Request) -> Database:
    """The Database the lifespan put on the app."""
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Open a session, commit when the endpoint returns, roll back when it raises.

    Used with scope="function" so the commit happens before the response is sent: a client
    never sees a success for a change that failed to commit.
    """
    async with get_database(request).sessionmaker() as session:
        session.info[SETTINGS_KEY] = request.app.state.settings
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request, session: SessionDep) -> AsyncIterator[AsyncSession]:
    """A session on the read replica; without one, the request's own session.

    What a replica returns may lag the primary by its delay, so only reads that may show a
    change a little late use this: never a check that guards a write.
    """
    reads = get_database(request).read_sessionmaker
    if reads is None:
        yield session
        return
    async with reads() as replica:
        yield replica


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
