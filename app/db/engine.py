"""The async engines and session factories, built in the app's lifespan (never at import)."""

import os
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import NullPool, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from app.config import Settings
from app.db.driver import POOLED


def async_url(url: str) -> str:
    """Normalise any postgres URL to the asyncpg dialect SQLAlchemy needs."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def plain_dsn(url: str) -> str:
    """A DSN asyncpg accepts: the SQLAlchemy driver suffix removed."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def direct_url(settings: Settings, url: str) -> str:
    """The URL of a session of our own (LISTEN, advisory locks, migrations): never a pooler."""
    return settings.database_direct_url or url


def migration_url(settings: Settings, url: str) -> str:
    """The URL migrations connect with: the schema owner's when set, else the direct URL."""
    return settings.database_migration_url or direct_url(settings, url)


def unique_statement_name() -> str:
    """A prepared statement name that no other client of a pooled server connection uses."""
    return f"__convene_{uuid.uuid4().hex}__"


def pooler_args(settings: Settings) -> dict[str, Any]:
    """What asyncpg needs behind PgBouncer in transaction mode (nothing without it)."""
    if not settings.database_pgbouncer:
        return {}
    # Two transactions of one client may run on different server connections, so no
    # prepared statement may be reused after its transaction, and its name must be one no
    # other client uses on that server connection.
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": unique_statement_name,
    }


# Behind PgBouncer, the first statement of every transaction: the timeouts a direct
# connection gets at login, for this transaction only (PgBouncer refuses them at login).
SET_TRANSACTION_TIMEOUTS = text(
    "SELECT set_config('statement_timeout', :statement_timeout, true),"
    " set_config('lock_timeout', :lock_timeout, true),"
    " set_config('idle_in_transaction_session_timeout', :idle_timeout, true)"
)


def timeouts(settings: Settings) -> dict[str, str]:
    """The server-side timeouts of an API connection, in milliseconds, by setting name.

    statement_timeout ends a runaway query; lock_timeout a wait for a row or table lock (a
    503 to the client rather than a queue behind a stuck transaction); and
    idle_in_transaction_session_timeout ends a session that opened a transaction and went
    quiet, which would otherwise hold back the snapshot horizon that `/v1/events` waits
    for, for every tenant, and keep its locks.
    """
    return {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "lock_timeout": str(settings.db_lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.db_idle_in_transaction_timeout_ms),
    }


def connect_args(settings: Settings, application_name: str = "convene") -> dict[str, Any]:
    """The connection arguments for asyncpg: timeouts, UTC, what PgBouncer needs."""
    server_settings = {"application_name": application_name, "timezone": "UTC"}
    if not settings.database_pgbouncer:
        return {"server_settings": server_settings | timeouts(settings)}
    # PgBouncer refuses these as startup parameters: each transaction sets them (see
    # `set_timeouts_per_transaction`), and asyncpg's command timeout also cancels a
    # statement that runs too long, from the client.
    return {
        "server_settings": server_settings,
        "command_timeout": settings.db_statement_timeout_ms / 1000,
        **pooler_args(settings),
    }


def set_timeouts_per_transaction(engine: AsyncEngine, settings: Settings) -> None:
    """Behind PgBouncer, start each transaction by setting the timeouts for it (SET LOCAL).

    Skipped when the role or database sets them itself (`ALTER ROLE ... SET`, which server
    connections inherit at login): then CONVENE_DATABASE_TIMEOUTS_FROM_ROLE saves the
    round trip.
    """
    if not settings.database_pgbouncer or settings.database_timeouts_from_role:
        return
    values = timeouts(settings)
    params = {
        "statement_timeout": values["statement_timeout"],
        "lock_timeout": values["lock_timeout"],
        "idle_timeout": values["idle_in_transaction_session_timeout"],
    }

    def on_begin(connection: Connection) -> None:
        connection.execute(SET_TRANSACTION_TIMEOUTS, params)

    event.listen(engine.sync_engine, "begin", on_begin)


# A pooled connection is replaced after this long, so one that went quiet without the server
# closing it (a dropped route, a firewall's idle cut) is not kept for ever.
POOL_RECYCLE_SECONDS = 1800


def refuse_closed_connections(engine: AsyncEngine) -> None:
    """On checkout, replace a pooled connection the server or the network has closed.

    Instead of SQLAlchemy's `pool_pre_ping`, which costs three round trips per checkout
    (BEGIN, an empty statement, ROLLBACK): when PostgreSQL ends a session (a restart, a crash,
    `pg_terminate_backend`, an idle timeout, PgBouncer closing a client) the socket closes, the
    event loop reads the end while the connection sits in the pool, and asyncpg marks it
    closed. The check is a flag read; the pool then connects anew (and a new connection that
    fails is the 503 a ping's failure would have been).
    """

    def on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the pooled connection was closed")

    event.listen(engine.sync_engine, "checkout", on_checkout)


def create_engine(url: str, settings: Settings, application_name: str = "convene") -> AsyncEngine:
    """An engine with bounded pool and timeouts, so no request can run away or hang on."""
    engine = create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=POOL_RECYCLE_SECONDS,
        # Statement errors and logs name no parameter: they hold names, comments, secrets.
        hide_parameters=True,
        connect_args=connect_args(settings, application_name),
        # Sessions on this engine learn from it whether a transaction pooler is in between.
        execution_options={POOLED: settings.database_pgbouncer},
    )
    refuse_closed_connections(engine)
    set_timeouts_per_transaction(engine, settings)
    return engine


def _pooled(engine: AsyncEngine) -> bool:
    """Whether `create_engine` made this engine for a transaction pooler (PgBouncer)."""
    return bool(engine.get_execution_options().get(POOLED, False))


def _sessions(engine: AsyncEngine, autocommit: bool = False) -> async_sessionmaker[AsyncSession]:
    pooled = _pooled(engine)
    if autocommit:
        # The same pool; the isolation level is the driver's flag, set and reset without a
        # round trip, and with it no BEGIN or COMMIT is sent.
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(engine, expire_on_commit=False, info={POOLED: pooled})


@dataclass(frozen=True)
class Database:
    """What a request needs from the database: sessions, and sessions for replica reads.

    `autocommit_sessionmaker`, when there is one, makes sessions whose statements each commit
    on their own (`app.db.session` says which requests get them); replica reads are made so
    too. Not behind a transaction pooler (`CONVENE_DATABASE_PGBOUNCER`): there a statement's
    prepare and execute must reach one server connection, and the timeouts may be set per
    transaction.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine | None = None
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
    read_engine: AsyncEngine | None = None
    autocommit_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_engine(
        cls,
        engine: AsyncEngine,
        read_engine: AsyncEngine | None = None,
    ) -> "Database":
        """Sessions on the engines (`create_engine`'s, which say whether PgBouncer is between)."""
        reads = _sessions(read_engine, not _pooled(read_engine)) if read_engine else None
        alone = None if _pooled(engine) else _sessions(engine, autocommit=True)
        return cls(_sessions(engine), engine, reads, read_engine, alone)

    @classmethod
    def from_connection(cls, connection: AsyncConnection) -> "Database":
        """Sessions that join an open connection's transaction (used by the test harness)."""
        return cls(
            async_sessionmaker(
                bind=connection,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
            )
        )

    async def dispose(self) -> None:
        for engine in (self.engine, self.read_engine):
            if engine is not None:
                await engine.dispose()


def session_engine(url: str, role: str, connect_timeout: float, **connect: Any) -> AsyncEngine:
    """An engine for a process's own session (a lock holder): direct, unpooled, autocommit.

    One connection per `connect()`, closed with its block, which ends the session and so
    releases any session lock; no transaction is left open while a lock is held. `connect`
    adds asyncpg connect arguments (`command_timeout`, `server_settings`).
    """
    server_settings = {"application_name": f"{role} pid {os.getpid()}"}
    server_settings.update(connect.pop("server_settings", {}))
    return create_async_engine(
        async_url(url),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
        connect_args={"timeout": connect_timeout, "server_settings": server_settings, **connect},
    )
