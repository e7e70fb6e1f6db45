"""The request's session: one transaction per request, committed at the edge."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database

# Where a request's session carries the app's Settings, for services whose work depends on
# configuration (e-mailed invitations are written only when an SMTP server is set).
SETTINGS_KEY = "settings"
E = TypeVar("E", bound=Callable[..., Any])
_READ_ONLY = "_convene_read_only"
_ONE_STATEMENT = "_convene_one_statement"
# The header of a write that must keep its answer in its own transaction (app.idempotency).
_IDEMPOTENCY_KEY = b"idempotency-key"


def get_database(request: Request) -> Database:
    """The Database the lifespan put on the app."""
    database: Database = request.app.state.database
    return database


def read_only(endpoint: E) -> E:
    """Mark an endpoint that only reads: its statements run without a transaction around them.

    That saves the BEGIN and the COMMIT, two round trips. It changes nothing a read sees:
    at READ COMMITTED each statement of a transaction takes its own snapshot anyway. Not for
    an endpoint that writes, locks rows or takes a transaction-scoped lock or setting.
    """
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


def one_statement(endpoint: E) -> E:
    """Mark a write that changes everything in one statement: it too runs without BEGIN/COMMIT.

    A statement is atomic on its own, so the transaction around it only costs two round trips
    and holds its row locks until the COMMIT. Not when the request sends an Idempotency-Key:
    the answer kept for it must commit with the change. A step that needs several statements
    under one lock opens a transaction for them (`app.db.driver.transaction`).
    """
    setattr(endpoint, _ONE_STATEMENT, True)
    return endpoint


def _marked(request: Request, mark: str) -> bool:
    """Whether the request's endpoint carries `mark` (`read_only`, `one_statement`)."""
    endpoint = getattr(request.scope.get("route"), "endpoint", None)
    return getattr(endpoint, mark, False) is True


def _alone(request: Request, reads_only: bool) -> bool:
    """Whether the request's statements may each run on their own, without BEGIN/COMMIT."""
    return reads_only or (
        _marked(request, _ONE_STATEMENT)
        and not any(name == _IDEMPOTENCY_KEY for name, _ in request.scope["headers"])
    )


# Where the request's scope holds its session while its route's handler runs.
_SESSION = "convene.session"


@asynccontextmanager
async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Open the request's session; commit when the handler returns, roll back when it raises.

    `SessionRoute` runs every handler that needs a session inside this, so the commit happens
    before the response is sent: a client never sees a success for a change that failed to
    commit. (A dependency with `yield` did this before, at the price of FastAPI's generator
    and exit-stack bookkeeping on every request.)
    """
    database = get_database(request)
    reads_only = _marked(request, _READ_ONLY)
    sessionmaker = database.sessionmaker
    if database.autocommit_sessionmaker is not None and _alone(request, reads_only):
        sessionmaker = database.autocommit_sessionmaker
    # A read has nothing to commit: closing the session (as leaving the block does) ends its
    # transaction, if it had one, and returns the connection; SQLAlchemy's commit before that
    # would only add its own bookkeeping.
    finishes = not reads_only
    async with sessionmaker() as session:
        session.info[SETTINGS_KEY] = request.app.state.settings
        request.scope[_SESSION] = session
        try:
            yield session
        except BaseException:
            if finishes:
                await session.rollback()
            raise
        else:
            if finishes:
                await session.commit()
        finally:
            del request.scope[_SESSION]
            replica: AsyncSession | None = request.scope.pop(_READ_SESSION, None)
            if replica is not None:
                await replica.close()


async def get_session(request: Request) -> AsyncSession:
    """The session `request_session` opened for this request."""
    session: AsyncSession | None = request.scope.get(_SESSION)
    if session is None:
        raise RuntimeError("a route that takes a session must be a SessionRoute")
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# Where the request's scope holds a session on the read replica, once a dependency opened one.
_READ_SESSION = "convene.read_session"


async def get_read_session(request: Request) -> AsyncSession:
    """A session on the read replica; without one, the request's own session.

    What a replica returns may lag the primary by its delay, so only reads that may show a
    change a little late use this: never a check that guards a write. `request_session`
    closes the replica's session with its own, so this is a plain dependency, without the
    exit-stack bookkeeping FastAPI does for a generator.
    """
    session = await get_session(request)
    reads = get_database(request).read_sessionmaker
    if reads is None:
        return session
    replica: AsyncSession | None = request.scope.get(_READ_SESSION)
    if replica is None:
        replica = request.scope[_READ_SESSION] = reads()
    return replica


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]
